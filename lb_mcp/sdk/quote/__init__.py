"""The quote half: ``QuoteContext``, argument checks, pull/push decoding, models, the push feed."""
