"""Reliability soak suite: the acceptance table of reliability.md §6 against real processes.

Run: ``.venv/bin/python bench/soak/run.py [--quick] [--rows 3,5,7]``. Starts ``lb-mcp sim``
and ``lb-mcp serve`` (stdio, live mode against the sim) as subprocesses on 127.0.0.1 only,
with HOME / state dirs in a temporary folder, drives faults through the sim's signed admin API
(``/sim/admin/faults``) and prints one line per row: its numbers and PASS / FAIL against the
table's threshold. A row this suite does not drive prints ``NOT RUN`` and counts as a failure.
The rows live by area in ``rows_link``, ``rows_load``, ``rows_orders``, ``rows_fuzz`` and
``rows_security``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import tempfile
import traceback
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.soak.harness import Ctx, Row

MODULES = ("rows_link", "rows_load", "rows_orders", "rows_fuzz", "rows_security")


def all_rows() -> dict[int, Row]:
    rows: dict[int, Row] = {}
    for name in MODULES:
        try:
            module = importlib.import_module(f"bench.soak.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.soak.{name}":
                raise
            continue
        rows.update(module.ROWS)
    return rows


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short waits")
    parser.add_argument("--rows", default="", help="comma-separated row numbers (default: all)")
    args = parser.parse_args()
    wanted = {int(r) for r in args.rows.split(",") if r.strip()} or set(range(1, 21))
    rows = all_rows()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="lb-soak-") as tmp:
        ctx = Ctx(args.quick, Path(tmp))
        for number in sorted(wanted):
            row = rows.get(number)
            if row is None:
                print(f"row {number:2d}  NOT RUN  no driver for this row", flush=True)
                failures += 1
                continue
            try:
                with anyio.fail_after(row.timeout_s):
                    ok, text = await row.run(ctx)
            except Exception as exc:
                traceback.print_exc()
                ok, text = False, f"ERROR {type(exc).__name__}: {str(exc)[:200]}"
            failures += not ok
            verdict = "PASS" if ok else ("NOT RUN" if text.startswith("NOT RUN") else "FAIL")
            print(f"row {number:2d}  {verdict:7s}  {text}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
