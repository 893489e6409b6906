"""The simulated market: universe, seeded price model, sessions, candles, derivatives, analytics."""
