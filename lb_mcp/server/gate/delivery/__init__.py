"""Exactly-once delivery of an approved order: journal, send, reconcile, push audit."""
