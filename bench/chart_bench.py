"""Chart rendering cost: the first chart (which imports matplotlib) and steady-state renders.

Run: ``python bench/chart_bench.py``. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

FIRST = """
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from lb_mcp.server.charts.series import Bar, PriceSeries
bars = tuple(Bar(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=i), Decimal(100), Decimal(101),
             Decimal(99), Decimal(100 + i % 3), 1000) for i in range(60))
t = time.perf_counter()
from lb_mcp.server.charts import png
png.render_price(PriceSeries("700.HK", "HKD", "Asia/Hong_Kong", "day", bars))
print(time.perf_counter() - t)
"""


def _bars(n: int) -> tuple[object, ...]:
    from lb_mcp.server.charts.series import Bar

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    out, price = [], Decimal(100)
    for i in range(n):
        close = price + Decimal((i * 7919) % 11 - 5) / 4
        out.append(
            Bar(
                t0 + timedelta(days=i),
                price,
                max(price, close) + 1,
                min(price, close) - 1,
                close,
                1000 + i,
            )
        )
        price = close
    return tuple(out)


def main() -> None:
    firsts = [
        float(
            subprocess.run(
                [sys.executable, "-c", FIRST], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    print(
        "first chart in a fresh process (imports matplotlib): "
        f"median {statistics.median(firsts) * 1e3:.0f} ms"
    )
    from lb_mcp.server.charts import png
    from lb_mcp.server.charts.series import PriceSeries

    for n in (60, 250):
        series = PriceSeries("700.HK", "HKD", "Asia/Hong_Kong", "day", _bars(n))  # type: ignore[arg-type]
        png.render_price(series)
        times, size = [], 0
        for _ in range(10):
            t = time.perf_counter()
            size = len(png.render_price(series).png)
            times.append(time.perf_counter() - t)
        print(
            f"{n} candles: median {statistics.median(times) * 1e3:.0f} ms per PNG, "
            f"{size / 1024:.0f} KiB"
        )


if __name__ == "__main__":
    main()
