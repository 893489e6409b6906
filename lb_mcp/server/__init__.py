"""The MCP server: tools, streamed-quote resources and prompts over one lifespan ``AppContext``."""
