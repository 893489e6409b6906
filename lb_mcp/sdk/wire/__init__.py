"""The binary socket protocol without I/O: packets, commands, the session state machine,
protobuf."""
