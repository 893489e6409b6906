"""``Config.from_apikey_env`` reads an injected env mapping, validates it, and hides secrets."""

from __future__ import annotations

import pytest

from lb_mcp.sdk.config import (
    CN_HTTP_URL,
    CN_QUOTE_WS_URL,
    CN_TRADE_WS_URL,
    GLOBAL_HTTP_URL,
    Config,
    ConfigError,
    Language,
    PushCandlestickMode,
)

SECRETS = {
    "LONGBRIDGE_APP_KEY": "key-visible",
    "LONGBRIDGE_APP_SECRET": "secret-s3cr3t",
    "LONGBRIDGE_ACCESS_TOKEN": "token-t0k3n",
}


def test_every_longbridge_variable_is_read() -> None:
    env = {
        **SECRETS,
        "LONGBRIDGE_HTTP_URL": "http://127.0.0.1:8080/",
        "LONGBRIDGE_QUOTE_WS_URL": "ws://127.0.0.1:8081/v2",
        "LONGBRIDGE_TRADE_WS_URL": "ws://127.0.0.1:8082/v2",
        "LONGBRIDGE_LANGUAGE": "zh-HK",
        "LONGBRIDGE_ENABLE_OVERNIGHT": "true",
        "LONGBRIDGE_PUSH_CANDLESTICK_MODE": "confirmed",
        "LONGBRIDGE_PRINT_QUOTE_PACKAGES": "false",
        "LONGBRIDGE_PAPERTRADING": "1",
    }
    config = Config.from_apikey_env(env=env)
    assert (config.app_key, config.app_secret, config.access_token) == (
        "key-visible",
        "secret-s3cr3t",
        "token-t0k3n",
    )
    assert config.http_url == "http://127.0.0.1:8080"  # trailing slash dropped
    assert config.quote_ws_url == "ws://127.0.0.1:8081/v2"
    assert config.trade_ws_url == "ws://127.0.0.1:8082/v2"
    assert config.language is Language.ZH_HK
    assert config.enable_overnight is True
    assert config.push_candlestick_mode is PushCandlestickMode.Confirmed
    assert config.enable_print_quote_packages is False
    assert config.enable_papertrading is True
    assert config.dc_region == "ap"


def test_legacy_longport_variables_are_a_fallback() -> None:
    env = {
        "LONGPORT_APP_KEY": "old-key",
        "LONGPORT_APP_SECRET": "old-secret",
        "LONGPORT_ACCESS_TOKEN": "old-token",
        "LONGPORT_HTTP_URL": "http://127.0.0.1:9",
        "LONGPORT_LANGUAGE": "zh-CN",
    }
    config = Config.from_apikey_env(env=env)
    assert config.app_key == "old-key"
    assert config.access_token == "old-token"
    assert config.http_url == "http://127.0.0.1:9"
    assert config.language is Language.ZH_CN


def test_the_new_name_wins_over_the_legacy_one() -> None:
    env = {**SECRETS, "LONGPORT_APP_KEY": "old-key", "LONGPORT_LANGUAGE": "zh-CN"}
    env["LONGBRIDGE_LANGUAGE"] = "en"
    config = Config.from_apikey_env(env=env)
    assert config.app_key == "key-visible"
    assert config.language is Language.EN


def test_an_empty_new_variable_falls_back_to_the_legacy_one() -> None:
    env = {**SECRETS, "LONGBRIDGE_APP_KEY": "", "LONGPORT_APP_KEY": "old-key"}
    assert Config.from_apikey_env(env=env).app_key == "old-key"


@pytest.mark.parametrize("region", ["CN", "cn", " Cn "])
def test_region_cn_picks_the_cn_hosts(region: str) -> None:
    config = Config.from_apikey_env(env={**SECRETS, "LONGBRIDGE_REGION": region})
    assert config.http_url == CN_HTTP_URL
    assert config.quote_ws_url == CN_QUOTE_WS_URL
    assert config.trade_ws_url == CN_TRADE_WS_URL


def test_any_other_region_picks_the_global_hosts() -> None:
    config = Config.from_apikey_env(env={**SECRETS, "LONGBRIDGE_REGION": "HK"})
    assert config.http_url == GLOBAL_HTTP_URL


def test_an_explicit_url_beats_the_region() -> None:
    env = {**SECRETS, "LONGBRIDGE_REGION": "CN", "LONGBRIDGE_HTTP_URL": "http://127.0.0.1:1"}
    assert Config.from_apikey_env(env=env).http_url == "http://127.0.0.1:1"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_a_missing_variable_is_named_and_no_value_is_shown(missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(ConfigError) as info:
        Config.from_apikey_env(env=env)
    text = str(info.value)
    assert missing in text
    assert not any(value in text for value in SECRETS.values())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LONGBRIDGE_ENABLE_OVERNIGHT", "maybe"),
        ("LONGBRIDGE_PAPERTRADING", "2"),
        ("LONGBRIDGE_HTTP_URL", "ftp://example.com"),
        ("LONGBRIDGE_HTTP_URL", "not a url"),
        ("LONGBRIDGE_QUOTE_WS_URL", "http://127.0.0.1:1"),
        ("LONGBRIDGE_TRADE_WS_URL", "wss://"),
        ("LONGBRIDGE_LANGUAGE", "fr"),
        ("LONGBRIDGE_PUSH_CANDLESTICK_MODE", "sometimes"),
    ],
)
def test_a_malformed_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_apikey_env(env={**SECRETS, name: value})
    assert name in str(info.value)
    assert not any(secret in str(info.value) for secret in SECRETS.values())


def test_secrets_are_absent_from_the_repr() -> None:
    config = Config.from_apikey_env(env=SECRETS)
    text = repr(config)
    assert "secret-s3cr3t" not in text
    assert "token-t0k3n" not in text
    assert "key-visible" in text


def test_a_us_prefixed_credential_selects_the_us_data_centre() -> None:
    env = {**SECRETS, "LONGBRIDGE_ACCESS_TOKEN": "us_token"}
    assert Config.from_apikey_env(env=env).dc_region == "us"


def test_oauth_config_authorizes_with_bearer() -> None:
    from lb_mcp.sdk.oauth import OAuth

    config = Config.from_oauth(OAuth.from_token("tok-secret"), env={})
    assert config.is_oauth and config.auth_mode == "oauth"
    assert config.authorization() == "Bearer tok-secret"
    assert config.app_key == ""  # OAuth::from_token sends an empty x-api-key
    assert "tok-secret" not in repr(config)
