"""Size of the ``tools/list`` answer (compact JSON), in total and per tool.

Run from the repository root: ``python bench/measure_tools_list.py [legacy|auto]``. Prints the
total and, per tool, its size and those of its description, input and output schema.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anyio

sys.path.insert(0, ".")
from lb_mcp.server import budget
from tests.server.appkit import connected


async def main(mode: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        async with connected(Path(d), mode) as (_, client):
            tools = (await client.list_tools()).tools
            wire = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
            print("TOTAL", len(budget.compact(wire)), "tools", len(wire))
            print("total description input output name")
            rows = sorted(
                (
                    len(budget.compact(t)),
                    len(t.get("description", "")),
                    len(budget.compact(t.get("inputSchema", {}))),
                    len(budget.compact(t.get("outputSchema", {}))),
                    t["name"],
                )
                for t in wire
            )
            for row in reversed(rows):
                print(*row)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "legacy")
