"""Immutable client configuration, read and validated once.

Names follow the official SDK (``Config.from_apikey``, ``Config.from_apikey_env``,
``Config.from_oauth``). Environment variables use the ``LONGBRIDGE_`` prefix; the legacy
``LONGPORT_`` names are accepted when the new one is absent. Unlike the official SDK we never
read ``./.env`` implicitly: a stale file silently shadowing the environment is a known source of
"token expired" reports (reliability.md §1 #3).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lb_mcp.sdk.errors import OpenApiException
from lb_mcp.sdk.transport.token_refresh import refresh_legacy_token

if TYPE_CHECKING:
    from lb_mcp.sdk.oauth.client import OAuth

GLOBAL_HTTP_URL = "https://openapi.longbridge.com"
GLOBAL_QUOTE_WS_URL = "wss://openapi-quote.longbridge.com/v2"
GLOBAL_TRADE_WS_URL = "wss://openapi-trade.longbridge.com/v2"
CN_HTTP_URL = "https://openapi.longbridge.cn"
CN_QUOTE_WS_URL = "wss://openapi-quote.longbridge.cn/v2"
CN_TRADE_WS_URL = "wss://openapi-trade.longbridge.cn/v2"


class Language(StrEnum):
    ZH_CN = "zh-CN"
    ZH_HK = "zh-HK"
    EN = "en"


class PushCandlestickMode(StrEnum):
    Realtime = "realtime"
    Confirmed = "confirmed"


class ConfigError(OpenApiException):
    """A configuration value is missing or malformed. The message names the variable only."""


def _lookup(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """Return (variable actually used, value) for ``LONGBRIDGE_<name>`` or ``LONGPORT_<name>``."""
    for prefix in ("LONGBRIDGE_", "LONGPORT_"):
        key = prefix + name
        value = env.get(key)
        if value is not None and value != "":
            return key, value
    return None


def _env_str(env: Mapping[str, str], name: str) -> str | None:
    found = _lookup(env, name)
    return None if found is None else found[1]


def _env_bool(env: Mapping[str, str], name: str) -> bool | None:
    found = _lookup(env, name)
    if found is None:
        return None
    key, value = found
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false")


def _require(env: Mapping[str, str], name: str) -> str:
    found = _lookup(env, name)
    if found is None:
        raise ConfigError(f"LONGBRIDGE_{name} is not set (legacy LONGPORT_{name} also accepted)")
    return found[1]


def _check_url(value: str, schemes: tuple[str, ...], what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(f"{what} must be a {' or '.join(schemes)} URL")
    return value.rstrip("/") if parts.scheme.startswith("http") else value


def _language(value: str | Language | None, what: str = "LONGBRIDGE_LANGUAGE") -> Language:
    if value is None:
        return Language.EN
    try:
        return Language(value)
    except ValueError:
        raise ConfigError(f"{what} must be one of en, zh-CN, zh-HK") from None


@dataclass(frozen=True)
class Config:
    """Everything a context needs to reach Longbridge. Secrets never appear in ``repr``."""

    app_key: str
    app_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    http_url: str = GLOBAL_HTTP_URL
    quote_ws_url: str = GLOBAL_QUOTE_WS_URL
    trade_ws_url: str = GLOBAL_TRADE_WS_URL
    language: Language = Language.EN
    enable_overnight: bool = False
    push_candlestick_mode: PushCandlestickMode = PushCandlestickMode.Realtime
    enable_print_quote_packages: bool = True
    enable_papertrading: bool = False
    # OAuth mode: the current access token (the HTTP client refreshes it through ``oauth``
    # before each request, because a refresh is a network call and this callable cannot await).
    token_provider: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    oauth: OAuth | None = field(default=None, repr=False, compare=False)

    @property
    def is_oauth(self) -> bool:
        return self.token_provider is not None

    @property
    def auth_mode(self) -> str:
        """``oauth`` or ``api_key``: what ``status`` shows (never the credential itself)."""
        return "oauth" if self.is_oauth else "api_key"

    def authorization(self) -> str:
        """The ``Authorization`` header value: raw token (API key) or ``Bearer …`` (OAuth)."""
        if self.token_provider is not None:
            return "Bearer " + self.token_provider()
        return self.access_token

    @property
    def dc_region(self) -> str:
        token = self.token_provider() if self.token_provider else self.access_token
        if any(v.startswith("us_") for v in (self.app_key, self.app_secret, token)):
            return "us"
        return "ap"

    def refresh_access_token(self, expired_at: datetime | None = None) -> str:
        """Blocking variant of :meth:`refresh_access_token_async` (not inside a running loop)."""
        return asyncio.run(self.refresh_access_token_async(expired_at))

    async def refresh_access_token_async(self, expired_at: datetime | None = None) -> str:
        """A new access token (official name and signature).

        API key: ``GET /v1/token/refresh`` valid until ``expired_at`` (default 90 days from now,
        timezone-aware); returns the new token and leaves this frozen config as it is, so build
        the next one with it (``dataclasses.replace(config, access_token=new)``). OAuth: the
        official SDK does not support this; here it refreshes the sign-in now (the server picks
        the lifetime, ``expired_at`` is ignored), saves the token file and returns the new token.
        """
        if self.oauth is not None:
            return await self.oauth.refresh()
        return await refresh_legacy_token(
            self.http_url,
            app_key=self.app_key,
            app_secret=self.app_secret,
            access_token=self.access_token,
            expired_at=expired_at,
            headers={"accept-language": self.language.value, "x-dc-region": self.dc_region},
        )

    def with_urls(
        self,
        *,
        http_url: str | None = None,
        quote_ws_url: str | None = None,
        trade_ws_url: str | None = None,
    ) -> Config:
        return replace(
            self,
            http_url=http_url or self.http_url,
            quote_ws_url=quote_ws_url or self.quote_ws_url,
            trade_ws_url=trade_ws_url or self.trade_ws_url,
        )

    @classmethod
    def from_apikey(
        cls,
        app_key: str,
        app_secret: str,
        access_token: str,
        http_url: str | None = None,
        quote_ws_url: str | None = None,
        trade_ws_url: str | None = None,
        language: Language | str | None = None,
        enable_overnight: bool | None = None,
        push_candlestick_mode: PushCandlestickMode | None = None,
        enable_print_quote_packages: bool | None = None,
        enable_papertrading: bool | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> Config:
        """API-key config. Optional settings not given explicitly are read from ``env``."""
        for name, value in (
            ("app_key", app_key),
            ("app_secret", app_secret),
            ("access_token", access_token),
        ):
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{name} must be a non-empty string")
        return cls._build(
            env if env is not None else os.environ,
            app_key=app_key,
            app_secret=app_secret,
            access_token=access_token,
            token_provider=None,
            http_url=http_url,
            quote_ws_url=quote_ws_url,
            trade_ws_url=trade_ws_url,
            language=language,
            enable_overnight=enable_overnight,
            push_candlestick_mode=push_candlestick_mode,
            enable_print_quote_packages=enable_print_quote_packages,
            enable_papertrading=enable_papertrading,
        )

    @classmethod
    def from_apikey_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Read every ``LONGBRIDGE_*`` (or legacy ``LONGPORT_*``) variable from ``env``."""
        source = env if env is not None else os.environ
        return cls._build(
            source,
            app_key=_require(source, "APP_KEY"),
            app_secret=_require(source, "APP_SECRET"),
            access_token=_require(source, "ACCESS_TOKEN"),
            token_provider=None,
        )

    @classmethod
    def from_oauth(
        cls,
        oauth: OAuth,
        http_url: str | None = None,
        quote_ws_url: str | None = None,
        trade_ws_url: str | None = None,
        language: Language | str | None = None,
        enable_overnight: bool | None = None,
        push_candlestick_mode: PushCandlestickMode | None = None,
        enable_print_quote_packages: bool | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> Config:
        """OAuth 2.0 config from an :class:`~lb_mcp.sdk.oauth.OAuth` handle (official name):
        requests carry ``Bearer <token>``, ``x-api-key`` is the client id, nothing is signed."""
        return cls._build(
            env if env is not None else os.environ,
            app_key=oauth.client_id,
            app_secret="",
            access_token="",
            token_provider=oauth.cached_access_token,
            oauth=oauth,
            http_url=http_url,
            quote_ws_url=quote_ws_url,
            trade_ws_url=trade_ws_url,
            language=language,
            enable_overnight=enable_overnight,
            push_candlestick_mode=push_candlestick_mode,
            enable_print_quote_packages=enable_print_quote_packages,
        )

    @classmethod
    def _build(
        cls,
        env: Mapping[str, str],
        *,
        app_key: str,
        app_secret: str,
        access_token: str,
        token_provider: Callable[[], str] | None,
        oauth: OAuth | None = None,
        http_url: str | None = None,
        quote_ws_url: str | None = None,
        trade_ws_url: str | None = None,
        language: Language | str | None = None,
        enable_overnight: bool | None = None,
        push_candlestick_mode: PushCandlestickMode | None = None,
        enable_print_quote_packages: bool | None = None,
        enable_papertrading: bool | None = None,
    ) -> Config:
        region = _env_str(env, "REGION")
        china = region is not None and region.strip().upper() == "CN"
        http = http_url or _env_str(env, "HTTP_URL") or (CN_HTTP_URL if china else GLOBAL_HTTP_URL)
        quote = (
            quote_ws_url
            or _env_str(env, "QUOTE_WS_URL")
            or (CN_QUOTE_WS_URL if china else GLOBAL_QUOTE_WS_URL)
        )
        trade = (
            trade_ws_url
            or _env_str(env, "TRADE_WS_URL")
            or (CN_TRADE_WS_URL if china else GLOBAL_TRADE_WS_URL)
        )
        mode_raw = push_candlestick_mode or _env_str(env, "PUSH_CANDLESTICK_MODE") or "realtime"
        try:
            mode = PushCandlestickMode(str(mode_raw).lower())
        except ValueError:
            raise ConfigError(
                "LONGBRIDGE_PUSH_CANDLESTICK_MODE must be realtime or confirmed"
            ) from None

        def pick(explicit: bool | None, name: str, default: bool) -> bool:
            if explicit is not None:
                return explicit
            value = _env_bool(env, name)
            return default if value is None else value

        return cls(
            app_key=app_key,
            app_secret=app_secret,
            access_token=access_token,
            http_url=_check_url(http, ("http", "https"), "LONGBRIDGE_HTTP_URL"),
            quote_ws_url=_check_url(quote, ("ws", "wss"), "LONGBRIDGE_QUOTE_WS_URL"),
            trade_ws_url=_check_url(trade, ("ws", "wss"), "LONGBRIDGE_TRADE_WS_URL"),
            language=_language(language if language is not None else _env_str(env, "LANGUAGE")),
            enable_overnight=pick(enable_overnight, "ENABLE_OVERNIGHT", False),
            push_candlestick_mode=mode,
            enable_print_quote_packages=pick(
                enable_print_quote_packages, "PRINT_QUOTE_PACKAGES", True
            ),
            enable_papertrading=pick(enable_papertrading, "PAPERTRADING", False),
            token_provider=token_provider,
            oauth=oauth,
        )


__all__ = ["Config", "ConfigError", "Language", "PushCandlestickMode"]
