"""The simulated exchange and account: order entry, matching, ledger, fees, watchlists."""
