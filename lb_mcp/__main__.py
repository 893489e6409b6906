"""Composition root for ``lb-mcp serve | sim | demo | audit``: where sdk, sim and server meet."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lb-mcp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("sim", help="run the embedded Longbridge-compatible simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=0, help="HTTP port (0 = any free port)")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--hours", choices=["always", "real"], default="always")
    sim.add_argument("--push-rate", type=float, default=2.0, help="quote pushes per symbol per s")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "sim":
        from lb_mcp.sim.cli import run_sim

        return run_sim(
            host=args.host,
            port=args.port,
            seed=args.seed,
            hours=args.hours,
            push_rate=args.push_rate,
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
