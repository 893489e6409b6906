"""The built-in instrument universe (data file, lazy load) and user universe files."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from lb_mcp.sim import Simulator
from lb_mcp.sim.exchange.entry import SubmitRequest, validate_submit
from lb_mcp.sim.exchange.orders import SimError
from lb_mcp.sim.market import derivatives
from lb_mcp.sim.market.catalog import CatalogError, load
from lb_mcp.sim.market.model import MarketModel
from lb_mcp.sim.market.universe import UNIVERSE, Universe, is_on_tick

from .conftest import FakeClock

HEADER = "symbol,name_en,name_cn,currency,exchange,lot,price,kind,approximate\n"


def test_the_universe_covers_every_market_with_real_board_lots() -> None:
    assert len(UNIVERSE) >= 1000
    regions = Counter(s.rsplit(".", 1)[1] for s in UNIVERSE)
    assert regions["US"] >= 500 and regions["HK"] >= 100
    assert regions["SH"] + regions["SZ"] >= 24 and regions["SG"] >= 24
    lots = {s: UNIVERSE[s].lot_size for s in ("700.HK", "5.HK", "9988.HK", "939.HK", "2318.HK")}
    assert lots == {"700.HK": 100, "5.HK": 400, "9988.HK": 100, "939.HK": 1000, "2318.HK": 500}
    for etf in ("SPY.US", "QQQ.US", "XLK.US", "TLT.US", "GLD.US"):
        assert UNIVERSE[etf].kind == "etf" and UNIVERSE[etf].lot_size == 1
    for index in ("HSI.HK", "HSTECH.HK", ".DJI.US", ".IXIC.US", ".SPX.US", "000001.SH"):
        assert UNIVERSE[index].quote_only
    for sec in UNIVERSE.values():
        assert sec.quote_only or is_on_tick(sec.symbol, sec.base_price), sec.symbol
    assert UNIVERSE["700.HK"].eps == Decimal("20.78")  # the hand-written seven keep their facts


def test_importing_the_server_does_not_read_the_universe_file(tmp_path: Path) -> None:
    code = (
        "import lb_mcp.server.app, lb_mcp.sim\n"
        "from lb_mcp.sim.market.universe import UNIVERSE\n"
        "print(UNIVERSE.loaded, UNIVERSE.loads)\n"
    )
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["False", "0"]


def test_any_instrument_gets_a_deterministic_market_on_first_use() -> None:
    a = MarketModel(seed=7, clock=FakeClock())
    b = MarketModel(seed=7, clock=FakeClock())
    b.quote("AAPL.US")  # other symbols in use do not change a symbol's path
    for symbol in ("MSFT.US", "1810.HK", "D05.SG", "000858.SZ", "HSI.HK"):
        assert a.quote(symbol) == b.quote(symbol)
        assert a.intraday(symbol) == b.intraday(symbol)
    assert set(a.active_symbols) == {"MSFT.US", "1810.HK", "D05.SG", "000858.SZ", "HSI.HK"}
    assert a.depth("1810.HK").asks and a.depth("1810.HK").asks[0].volume % 200 == 0
    assert not a.depth("HSI.HK").asks  # an index has no book


def test_derivatives_cover_many_underlyings() -> None:
    market = MarketModel(seed=7, clock=FakeClock())
    assert sum(derivatives.has_options(market, s) for s in ("MSFT.US", "SPY.US", "AMZN.US")) == 3
    assert not derivatives.has_options(market, ".SPX.US")
    listed = derivatives.warrants(market)
    assert len({w.underlying for w in listed}) >= 5
    assert {w.kind for w in listed} == {0, 1, 2, 3}
    bull = next(w for w in listed if w.kind == derivatives.BULL)
    assert bull.strike < bull.call_price < market.security(bull.underlying).base_price
    assert derivatives.warrant_price(market, bull) > 0


def test_orders_on_an_index_are_refused_clearly(sim: Simulator) -> None:
    request = SubmitRequest(
        symbol="HSI.HK",
        order_type="LO",
        side="Buy",
        quantity=Decimal(1),
        price=Decimal("18000"),
        time_in_force="Day",
    )
    with pytest.raises(SimError) as info:
        validate_submit(request, sim.market, sim.ledger, sim.broker.ids, sim.clock())
    assert info.value.code == 602001 and "index" in str(info.value)


def test_a_user_file_adds_and_replaces_instruments(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        HEADER + "ZZZZ.US,Zed Corp,,USD,NASD,1,12.34,stock,\n"
        "700.HK,Tencent renamed,腾讯,HKD,SEHK,100,400.00,stock,1\n",
        encoding="utf-8",
    )
    universe = Universe()
    assert universe.extend_from(str(path)) == 2
    assert universe["ZZZZ.US"].base_price == Decimal("12.34")
    assert universe["700.HK"].name_en == "Tencent renamed" and universe["700.HK"].approximate
    assert len(universe) == len(UNIVERSE) + 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("ZZ.US,Zed,,USD,NASD,x,1.00,stock,", "line 3: lot 'x' is not a whole number"),
        ("ZZ.US,Zed,,USD,NASD,1,1.005,stock,", "line 3: price 1.005 is not on the tick grid"),
        ("ZZ.US,Zed,,HKD,NASD,1,1.00,stock,", "line 3: currency 'HKD' should be USD"),
        ("ZZ.XX,Zed,,USD,NASD,1,1.00,stock,", "line 3: symbol 'ZZ.XX': region must be"),
        ("ZZ.US,Zed,,USD,NASD,1,1.00,bond,", "line 3: kind 'bond' must be one of"),
        ("ZZ.US,,,USD,NASD,1,1.00,stock,", "line 3: column 'name_en' is empty"),
    ],
)
def test_a_bad_row_names_its_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "OK.US,Fine,,USD,NASD,1,2.00,stock,\n" + row + "\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_lb_mcp_sim_refuses_a_bad_universe_file_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "ZZ.US,Zed,,USD,NASD,0,1.00,stock,\n", encoding="utf-8")
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    env["LB_MCP_STATE_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "lb_mcp", "sim", "--universe", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert out.returncode == 2
    assert "line 2: lot 0 must be positive" in out.stderr and "Traceback" not in out.stderr
