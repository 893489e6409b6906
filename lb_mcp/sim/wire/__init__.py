"""The simulator's wire servers: REST app and routes, quote and trade sockets, admin hooks."""
