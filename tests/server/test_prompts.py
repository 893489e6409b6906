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
        assert "about (not given) minutes" in text
        review = await client.get_prompt("portfolio_review", {})
        assert "`portfolio`" in review.messages[0].content.text


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
