"""The trade half: ``TradeContext``, trade/asset models and the order-changed push."""
