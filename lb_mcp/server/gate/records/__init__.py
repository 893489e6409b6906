"""Durable state of the order path: usage ledger, audit log, their SQLite files, the audit CLI."""
