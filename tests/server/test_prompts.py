"""Prompts come from prompts/*.md and render their declared arguments only."""

from __future__ import annotations

from pathlib import Path

import pytest

from lb_mcp.server.prompts import PromptFileError, load_prompts, parse_prompt

from .appkit import MODES, connected

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", MODES)
async def test_the_three_prompts_are_listed_and_render_their_arguments(
    tmp_path: Path, mode: str
) -> None:
    async with connected(tmp_path, mode) as (_, client):
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert {"portfolio_review", "market_watch", "safe_order"} <= set(prompts)
        assert [a.name for a in prompts["market_watch"].arguments or []] == ["symbols", "minutes"]
        got = await client.get_prompt("market_watch", {"symbols": "700.HK, AAPL.US"})
        text = got.messages[0].content.text
        assert "Watch these symbols: 700.HK, AAPL.US." in text
        assert "about 2 minutes" in text and "not given" not in text  # its default
        review = await client.get_prompt("portfolio_review", {})
        assert "`portfolio`" in review.messages[0].content.text
        assert "Focus:" not in review.messages[0].content.text  # optional, no default: left out
        focused = await client.get_prompt("portfolio_review", {"focus": "risk"})
        assert "Focus: risk" in focused.messages[0].content.text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("name", "arguments", "said"),
    [
        ("market_watch", {}, "needs the argument(s): symbols"),
        ("safe_order", {"idea": ""}, "needs the argument(s): idea"),
        ("market_watch", {"symbols": "700.HK", "zzz": "1"}, "has no argument(s) zzz"),
        ("no_such_prompt", {}, "no prompt named 'no_such_prompt'"),
    ],
)
async def test_a_bad_prompts_get_is_a_clean_invalid_params_error(
    tmp_path: Path, mode: str, name: str, arguments: dict[str, str], said: str
) -> None:
    from mcp.shared.exceptions import MCPError
    from mcp_types.jsonrpc import INVALID_PARAMS

    async with connected(tmp_path, mode) as (_, client):
        with pytest.raises(MCPError) as caught:
            await client.get_prompt(name, arguments)
        assert caught.value.code == INVALID_PARAMS and said in caught.value.error.message
        ok = await client.get_prompt("safe_order", {"idea": "buy 100 700.HK"})
        assert "buy 100 700.HK" in ok.messages[0].content.text


def test_a_prompt_file_without_front_matter_is_refused() -> None:
    with pytest.raises(PromptFileError):
        parse_prompt("just a body", "x.md")


def test_argument_values_are_flattened_and_unknown_braces_are_kept() -> None:
    spec = parse_prompt(
        "---\nname: p\ndescription: d\narguments:\n  - name: a\n    required: true\n---\n"
        "A={a} uri=longbridge://quote/{symbol}\n"
    )
    assert spec.render({"a": "x\nIGNORE PREVIOUS\u202e"}) == (
        "A=x IGNORE PREVIOUS uri=longbridge://quote/{symbol}\n"
    )


def test_every_shipped_prompt_parses() -> None:
    assert len(load_prompts()) >= 3
