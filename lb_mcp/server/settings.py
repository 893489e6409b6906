"""Server settings: read once from ``LB_MCP_*`` (and an optional TOML file), then frozen.

Nothing here can change at run time: no tool receives a ``ServerSettings`` it could mutate, and
the trading mode (sandbox/live) comes from the composition root, never from a tool argument.

Precedence: environment > config file > defaults. The TOML file uses the same names in lower
case (``lb_mcp_price_band_pct = "5"``); unknown keys are refused, because a typo in a safety
limit must not silently fall back to a default. Numbers are parsed as ``Decimal`` strictly: plain
digits with an optional fraction, no NaN, Inf, exponent or sign. Errors name the variable.

Defaults are deliberately conservative: trading is on only in the sandbox, confirmation is by a
human, and ``auto`` confirmation is honoured only when the human also set every limit
explicitly (``LB_MCP_MAX_ORDER_NOTIONAL``, ``LB_MCP_MAX_DAILY_NOTIONAL``,
``LB_MCP_MAX_ORDERS_PER_DAY``); otherwise it degrades to ``human``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from lb_mcp.sdk.config import ConfigError
from lb_mcp.sdk.enums import Mode, OrderType
from lb_mcp.server.gate.intent import IntentError, normalize_symbol

T = TypeVar("T")
PREFIX = "LB_MCP_"
_DECIMAL_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_INT_RE = re.compile(r"^[0-9]+$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

# Order types whose parameters OrderIntent can express and the guards check.
SUPPORTED_ORDER_TYPES = frozenset(
    {
        OrderType.LO,
        OrderType.ELO,
        OrderType.MO,
        OrderType.AO,
        OrderType.ALO,
        OrderType.ODD,
        OrderType.LIT,
        OrderType.MIT,
        OrderType.TSLPAMT,
        OrderType.TSLPPCT,
    }
)
# The default: limit, market and the protective (conditional and trailing) types.
DEFAULT_ORDER_TYPES = frozenset(
    {
        OrderType.LO,
        OrderType.ELO,
        OrderType.MO,
        OrderType.LIT,
        OrderType.MIT,
        OrderType.TSLPAMT,
        OrderType.TSLPPCT,
    }
)
# The limits that must be set by a human before ``auto`` confirmation is honoured.
LIMIT_KEYS = ("MAX_ORDER_NOTIONAL", "MAX_DAILY_NOTIONAL", "MAX_ORDERS_PER_DAY")
KNOWN_KEYS = frozenset(
    {
        "TRADING",
        "CONFIRM",
        "PRICE_BAND_PCT",
        *LIMIT_KEYS,
        "ALLOWED_SYMBOLS",
        "BASE_CURRENCY",
        "CONFIRM_TTL_S",
        "STATE_DIR",
        "APPROVAL_OPEN_BROWSER",
        "ALLOWED_ORDER_TYPES",
    }
)


class SettingsError(ConfigError):
    """A ``LB_MCP_*`` value is malformed. The message names the variable, never other values."""


class ConfirmPolicy(StrEnum):
    HUMAN = "human"
    AUTO = "auto"


@dataclass(frozen=True)
class ServerSettings:
    """Limits and switches for the order path. Build with ``from_env``; never mutated."""

    trading: bool | None = None  # None: on in sandbox, off in live
    confirm: ConfirmPolicy = ConfirmPolicy.HUMAN
    price_band_pct: Decimal = Decimal("5")
    max_order_notional: Decimal = Decimal("100000")
    max_daily_notional: Decimal = Decimal("500000")
    max_orders_per_day: int = 20
    allowed_symbols: frozenset[str] = frozenset()  # empty: all symbols
    base_currency: str = "HKD"
    confirm_ttl_s: int = 120
    state_dir: Path = field(default_factory=lambda: _default_state_dir(os.environ))
    approval_open_browser: bool = True
    allowed_order_types: frozenset[OrderType] = DEFAULT_ORDER_TYPES
    # Which of LIMIT_KEYS the human set (env or file); gates ``auto`` confirmation.
    explicit_limits: frozenset[str] = frozenset()
    # The state directory the human named: `lb-mcp halt` writes there, so one halt stops every
    # mode's server even after ``state_dir`` was narrowed to a mode (see mode_state_dir).
    root_state_dir: Path | None = None

    @property
    def halt_dir(self) -> Path:
        return self.root_state_dir or self.state_dir

    def trading_enabled(self, mode: Mode) -> bool:
        if self.trading is not None:
            return self.trading
        return mode is Mode.SANDBOX

    def confirm_policy(self, mode: Mode) -> ConfirmPolicy:
        """The effective policy: ``auto`` only with every limit set explicitly by the human."""
        del mode  # same rule in both modes; ``human`` is the default everywhere
        if self.confirm is ConfirmPolicy.AUTO and self.explicit_limits >= set(LIMIT_KEYS):
            return ConfirmPolicy.AUTO
        return ConfirmPolicy.HUMAN

    def mode_state_dir(self, mode: Mode, account: str = "") -> Path:
        """Where one mode keeps its ledger, journal and audit log: sandbox and live never share
        state, and each live account (``account`` is a fingerprint, see
        :func:`account_fingerprint`) has its own daily caps."""
        if mode is Mode.SANDBOX:
            return self.state_dir / "sandbox"
        return self.state_dir / "live" / (account or "default")

    def symbol_allowed(self, symbol: str) -> bool:
        return not self.allowed_symbols or symbol in self.allowed_symbols

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, config_file: Path | None = None
    ) -> ServerSettings:
        source = os.environ if env is None else env
        values: dict[str, str] = {}
        if config_file is not None:
            values.update(_read_config_file(config_file))
        for key in KNOWN_KEYS:
            raw = source.get(PREFIX + key)
            if raw is not None and raw.strip() != "":
                values[key] = raw
        return cls._from_values(values, source)

    @classmethod
    def _from_values(cls, values: Mapping[str, str], env: Mapping[str, str]) -> ServerSettings:
        def get(key: str) -> str | None:
            raw = values.get(key)
            return None if raw is None else raw.strip()

        def opt(key: str, parse: Callable[[str, str], T], default: T) -> T:
            raw = get(key)
            return default if raw is None else parse(key, raw)

        base = cls(state_dir=Path("."))  # the dataclass defaults, in one place
        state_dir = get("STATE_DIR")
        return cls(
            trading=opt("TRADING", _parse_bool, None),
            confirm=opt("CONFIRM", _parse_confirm, base.confirm),
            price_band_pct=opt("PRICE_BAND_PCT", _parse_percent, base.price_band_pct),
            max_order_notional=opt(
                "MAX_ORDER_NOTIONAL", _parse_positive_decimal, base.max_order_notional
            ),
            max_daily_notional=opt(
                "MAX_DAILY_NOTIONAL", _parse_positive_decimal, base.max_daily_notional
            ),
            max_orders_per_day=opt("MAX_ORDERS_PER_DAY", _parse_count, base.max_orders_per_day),
            allowed_symbols=opt("ALLOWED_SYMBOLS", _parse_symbols, base.allowed_symbols),
            base_currency=opt("BASE_CURRENCY", _parse_currency, base.base_currency),
            confirm_ttl_s=opt("CONFIRM_TTL_S", _parse_ttl, base.confirm_ttl_s),
            state_dir=(
                _default_state_dir(env) if state_dir is None else Path(state_dir).expanduser()
            ),
            approval_open_browser=opt(
                "APPROVAL_OPEN_BROWSER", _parse_bool, base.approval_open_browser
            ),
            allowed_order_types=opt(
                "ALLOWED_ORDER_TYPES", _parse_order_types, base.allowed_order_types
            ),
            explicit_limits=frozenset(k for k in LIMIT_KEYS if get(k) is not None),
        )


def account_fingerprint(*identity: str) -> str:
    """A short, stable name for an account from what identifies it (app key or OAuth client
    id, and the API base URL). A one-way hash: the directory name never carries a credential."""
    digest = hashlib.sha256("\0".join(identity).encode()).hexdigest()
    return f"acct-{digest[:12]}"


def _default_state_dir(env: Mapping[str, str]) -> Path:
    xdg = env.get("XDG_STATE_HOME", "").strip()
    # XDG says relative paths are invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "lb-mcp"
    home = env.get("HOME", "").strip()
    base = Path(home) if home else Path.home()
    return base / ".local" / "state" / "lb-mcp"


def _read_config_file(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh, parse_float=Decimal)
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    out: dict[str, str] = {}
    for name, value in data.items():
        key = name.upper().removeprefix(PREFIX) if name.startswith("lb_mcp_") else None
        if key is None or key not in KNOWN_KEYS or name != name.lower():
            raise SettingsError(f"config file {path}: unknown key {name!r}")
        out[key] = _toml_text(key, value)
    return out


def _toml_text(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | Decimal | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise SettingsError(f"{PREFIX}{key} in the config file has an unsupported type")


def _err(key: str, what: str) -> SettingsError:
    return SettingsError(f"{PREFIX}{key} must be {what}")


def _parse_bool(key: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("on", "true", "1", "yes"):
        return True
    if lowered in ("off", "false", "0", "no"):
        return False
    raise _err(key, "on or off")


def _parse_confirm(key: str, raw: str) -> ConfirmPolicy:
    try:
        return ConfirmPolicy(raw.lower())
    except ValueError:
        raise _err(key, "human or auto") from None


def _parse_positive_decimal(key: str, raw: str) -> Decimal:
    if not _DECIMAL_RE.match(raw):
        raise _err(key, "a plain positive decimal number such as 100000 or 2.5")
    value = Decimal(raw)
    if value <= 0:
        raise _err(key, "greater than zero")
    return value


def _parse_percent(key: str, raw: str) -> Decimal:
    value = _parse_positive_decimal(key, raw)
    if value >= 100:
        raise _err(key, "below 100 (percent)")
    return value


def _parse_count(key: str, raw: str) -> int:
    if not _INT_RE.match(raw) or int(raw) <= 0:
        raise _err(key, "a positive whole number")
    return int(raw)


def _parse_ttl(key: str, raw: str) -> int:
    value = _parse_count(key, raw)
    if not 10 <= value <= 3600:
        raise _err(key, "between 10 and 3600 seconds")
    return value


# The currencies a Longbridge account holds and converts at the broker's rates.
BASE_CURRENCIES = ("HKD", "USD", "CNH", "SGD")


def _parse_currency(key: str, raw: str) -> str:
    value = raw.upper()
    if not _CURRENCY_RE.match(value) or value not in BASE_CURRENCIES:
        raise _err(key, "one of " + ", ".join(BASE_CURRENCIES))
    return value


def _parse_symbols(key: str, raw: str) -> frozenset[str]:
    try:
        return frozenset(normalize_symbol(s) for s in raw.split(",") if s.strip())
    except IntentError:
        raise _err(key, "a comma-separated list of symbols such as 700.HK,AAPL.US") from None


def _parse_order_types(key: str, raw: str) -> frozenset[OrderType]:
    out: set[OrderType] = set()
    for part in (p.strip().upper() for p in raw.split(",")):
        if not part:
            continue
        try:
            kind = OrderType(part)
        except ValueError:
            raise _err(key, "a comma-separated list of order types such as LO,ELO,MO") from None
        if kind not in SUPPORTED_ORDER_TYPES:
            supported = ",".join(sorted(t.value for t in SUPPORTED_ORDER_TYPES))
            raise _err(key, f"a subset of {supported}")
        out.add(kind)
    if not out:
        raise _err(key, "a non-empty list of order types")
    return frozenset(out)


__all__ = [
    "BASE_CURRENCIES",
    "DEFAULT_ORDER_TYPES",
    "KNOWN_KEYS",
    "SUPPORTED_ORDER_TYPES",
    "ConfirmPolicy",
    "ServerSettings",
    "SettingsError",
    "account_fingerprint",
]
