"""Row 14's schema-true inputs, drawn by hypothesis-jsonschema in its own interpreter.

hypothesis-jsonschema 0.23.1 (its newest release) calls ``many.more``, an internal that
hypothesis 6.170 removed; the project's tests run a newer hypothesis, so this runs in a venv
of its own (``.venv-fuzz``, ``hypothesis>=6.100,<6.170``; see rows_fuzz.JSONSCHEMA_VENV).

Reads ``{"tools": {name: schema}, "count": n, "seed": s}`` as JSON on stdin and writes
``{name: [inputs...]}`` (or ``{"error": ...}`` for a schema it cannot draw from) on stdout.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed
from hypothesis_jsonschema import from_schema  # type: ignore[import-not-found,unused-ignore]


def draw(schema: dict[str, Any], count: int, seed: int) -> list[Any]:
    out: list[Any] = []

    @hseed(seed)
    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(from_schema(schema))
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


def main() -> None:
    job = json.load(sys.stdin)
    result: dict[str, Any] = {}
    for n, (name, schema) in enumerate(sorted(job["tools"].items())):
        try:
            result[name] = draw(schema, int(job["count"]), int(job["seed"]) + n)
        except Exception as exc:  # an unsupported schema: the row falls back for this tool
            result[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    json.dump(result, sys.stdout, default=str)


if __name__ == "__main__":
    main()
