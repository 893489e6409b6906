"""Seeded, clock-injected fast checks of the reliability acceptance table (reliability.md §6)."""
