"""lb-mcp: a safe MCP gateway to a Longbridge brokerage account."""

__version__ = "0.1.0"
