"""The MCP tools, one module per area; order writes go through :mod:`lb_mcp.server.gate`."""
