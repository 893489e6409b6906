"""Soak suite for the reliability acceptance table (reliability.md §6); run ``run.py``."""
