"""Pictures of market data: the ``chart`` tool's PNGs, its MCP App view, the approval page chart.

``series`` shapes broker data into plain series (exact ``Decimal`` values, exchange-local times)
and writes the short text summary; ``png`` draws them with matplotlib, imported lazily so the
server's cold start does not pay for it; ``svg`` draws the small script-free price chart of the
approval page; ``view`` is the self-contained MCP App HTML; ``tool`` registers ``chart``.
"""
