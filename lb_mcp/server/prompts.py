"""Prompts from ``prompts/*.md``: front matter (name, title, description, arguments), then a body.

::

    ---
    name: market_watch
    description: Subscribe to a few symbols and summarise the moves.
    arguments:
      - name: symbols
        description: Comma-separated symbols.
        required: true
    ---
    Watch these symbols: {symbols}.

Only ``{argument}`` placeholders of declared arguments are replaced (other braces, e.g.
``longbridge://quote/{symbol}``, stay as written). The front matter is a small YAML subset
parsed here so no YAML dependency is needed; a malformed file fails at start-up, loudly.
Argument values are capped at 256 characters and flattened to one line.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument
from mcp.shared.exceptions import MCPError
from mcp_types import GetPromptRequestParams, GetPromptResult, InputRequiredResult
from mcp_types.jsonrpc import INVALID_PARAMS

from lb_mcp.server.output import clean_text

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class PromptFileError(ValueError):
    pass


@dataclass(frozen=True)
class PromptSpec:
    name: str
    title: str | None
    description: str
    arguments: tuple[PromptArgument, ...]
    body: str
    defaults: tuple[tuple[str, str], ...] = ()

    def problem(self, values: dict[str, str]) -> str | None:
        """Why ``values`` cannot render this prompt (missing or unknown arguments), or None."""
        declared = {a.name for a in self.arguments}
        missing = [a.name for a in self.arguments if a.required and not values.get(a.name)]
        unknown = sorted(set(values) - declared)
        if missing:
            return f"prompt {self.name!r} needs the argument(s): {', '.join(missing)}"
        if unknown:
            known = ", ".join(sorted(declared)) or "none"
            names = ", ".join(unknown)[:100]
            return f"prompt {self.name!r} has no argument(s) {names} (it takes: {known})"
        return None

    def render(self, values: dict[str, str]) -> str:
        """The body with each argument filled in; an optional argument left out takes its
        ``default`` from the front matter, or else the lines that mention it are left out."""
        declared = {a.name for a in self.arguments}
        given = {**dict(self.defaults), **{k: v for k, v in values.items() if v}}
        lines = []
        for line in self.body.splitlines(keepends=True):
            used = set(_PLACEHOLDER.findall(line)) & declared
            if used - set(given):
                continue

            def fill(match: re.Match[str]) -> str:
                key = match.group(1)
                return clean_text(given[key]) if key in declared else match.group(0)

            lines.append(_PLACEHOLDER.sub(fill, line))
        return "".join(lines)


def _scalar(text: str) -> str | bool:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def parse_prompt(text: str, source: str = "<prompt>") -> PromptSpec:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise PromptFileError(f"{source}: must start with a '---' front matter block")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise PromptFileError(f"{source}: front matter is not closed with '---'") from None
    meta: dict[str, object] = {}
    args: list[dict[str, object]] = []
    in_args = False
    for raw in lines[1:end]:
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if not raw.startswith(" ") and ":" in raw:
            key, _, value = raw.partition(":")
            in_args = key.strip() == "arguments"
            if not in_args:
                meta[key.strip()] = _scalar(value)
            continue
        stripped = raw.strip()
        if in_args and stripped.startswith("- "):
            args.append({})
            stripped = stripped[2:]
        if in_args and args and ":" in stripped:
            key, _, value = stripped.partition(":")
            args[-1][key.strip()] = _scalar(value)
            continue
        raise PromptFileError(f"{source}: cannot parse front matter line {raw!r}")
    name, description = meta.get("name"), meta.get("description")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise PromptFileError(f"{source}: 'name' must be lower_snake_case")
    if not isinstance(description, str) or not description:
        raise PromptFileError(f"{source}: 'description' is required")
    arguments = []
    defaults = []
    for a in args:
        if "default" in a:
            defaults.append((str(a.get("name")), str(a["default"])))
        if not isinstance(a.get("name"), str):
            raise PromptFileError(f"{source}: every argument needs a name")
        arguments.append(
            PromptArgument(
                name=str(a["name"]),
                description=str(a.get("description", "")) or None,
                required=bool(a.get("required", False)),
            )
        )
    title = meta.get("title")
    return PromptSpec(
        name=name,
        title=title if isinstance(title, str) else None,
        description=description,
        arguments=tuple(arguments),
        body="\n".join(lines[end + 1 :]).strip() + "\n",
        defaults=tuple(defaults),
    )


def load_prompts(directory: Path = PROMPTS_DIR) -> list[PromptSpec]:
    return [
        parse_prompt(path.read_text(encoding="utf-8"), path.name)
        for path in sorted(directory.glob("*.md"))
    ]


def _renderer(spec: PromptSpec) -> Callable[..., Awaitable[str]]:
    async def render(**values: str) -> str:
        return spec.render(values)

    return render


def register(mcp: MCPServer[Any], directory: Path = PROMPTS_DIR) -> list[str]:
    names = []
    specs = {spec.name: spec for spec in load_prompts(directory)}

    async def get_prompt(
        ctx: ServerRequestContext[Any, Any], params: GetPromptRequestParams
    ) -> GetPromptResult | InputRequiredResult:
        # Checked here, in both protocol eras, so a missing or unknown argument (or prompt) is
        # an invalid-params error that says what to send, never -32603 and a traceback.
        spec = specs.get(params.name)
        if spec is None:
            known = ", ".join(sorted(specs))
            raise MCPError(INVALID_PARAMS, f"no prompt named {params.name[:64]!r} (known: {known})")
        problem = spec.problem(dict(params.arguments or {}))
        if problem is not None:
            raise MCPError(INVALID_PARAMS, problem)
        context: Context[Any, Any] = Context(
            request_context=ctx, mcp_server=mcp, input_params=params
        )
        return await mcp.get_prompt(params.name, params.arguments, context)

    mcp._lowlevel_server.add_request_handler("prompts/get", GetPromptRequestParams, get_prompt)
    for spec in specs.values():
        mcp.add_prompt(
            Prompt(
                name=spec.name,
                title=spec.title,
                description=spec.description,
                arguments=list(spec.arguments),
                fn=_renderer(spec),
                context_kwarg=None,
            )
        )
        names.append(spec.name)
    return names


__all__ = [
    "PROMPTS_DIR",
    "PromptFileError",
    "PromptSpec",
    "load_prompts",
    "parse_prompt",
    "register",
]
