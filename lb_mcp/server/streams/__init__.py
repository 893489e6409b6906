"""Streamed quotes: the coalescing store, ``poll_quotes`` cursors and the MCP resources."""
