"""How bytes reach Longbridge: signed HTTP, rate limits, back-off, the socket driver."""
