"""Every tool result fits an LLM's context, and ``tools/list`` says only what a model needs.

Applied to every tool by the ``tools/call`` and ``tools/list`` handlers in ``app.py``, so a tool
added anywhere inherits it:

* the text block is the structured content as **compact** JSON (no indentation), rendered once,
  and every text block of every result (errors too) travels in a random-boundary envelope
  (:func:`enveloped`, ``text.envelope``) because it carries broker text; ``structuredContent``
  stays bare, so it still validates against the output schema;
* each tool has a budget in characters of that text, envelope included: ``default`` unless the
  caller passes ``max_chars`` (offered only where ``maximum`` is larger). A result over budget
  loses items of its largest list (the oldest end of a time series, the far end of anything
  else) until it fits, and says so: ``truncated`` (items left out) and ``hint`` (how to get
  the rest);
* ``tools/list`` fits 30,000 characters: schemas lose pydantic's generated ``title`` keywords,
  descriptions lose docstring indentation, output schemas stay open and name only their
  top-level fields (so a trimmed result's ``truncated``/``hint`` still validate), and what
  every tool shares is said once, in the server's instructions.

A tool that pages by itself (``poll_quotes`` keeps its cursor exact) reads the budget of the
running call from :func:`current_budget` and stays inside it, so the generic trim never fires.
"""

from __future__ import annotations

import contextvars
import copy
import inspect
import json
from dataclasses import dataclass
from typing import Any, Literal

from mcp_types import CallToolResult, TextContent, Tool

from lb_mcp.server.errors import ToolFailure
from lb_mcp.server.output import DECIMAL_PATTERN
from lb_mcp.server.text import ENVELOPE_CHARS, envelope, escape_for_envelope

DEFAULT_CHARS = 8_000
MAX_ARG = "max_chars"


@dataclass(frozen=True)
class Budget:
    """``default`` characters of result text, up to ``maximum`` when the caller asks."""

    default: int = DEFAULT_CHARS
    maximum: int = DEFAULT_CHARS
    keep: Literal["head", "tail"] = "head"  # which end of a trimmed list survives


# Only the exceptions; every other tool gets ``Budget()``. Time series are newest last, so a
# trim keeps their tail.
BUDGETS: dict[str, Budget] = {
    "candlesticks": Budget(maximum=40_000, keep="tail"),
    "intraday": Budget(maximum=40_000, keep="tail"),
    "trades": Budget(maximum=40_000, keep="tail"),
    "history_orders": Budget(maximum=24_000),
    "today_orders": Budget(maximum=24_000),
    "today_executions": Budget(maximum=24_000),
    "cash_flow": Budget(maximum=24_000),
    "poll_quotes": Budget(maximum=40_000),
    "quote": Budget(maximum=40_000),
    "static_info": Budget(maximum=40_000),
}

_current: contextvars.ContextVar[int] = contextvars.ContextVar("budget", default=DEFAULT_CHARS)


def budget_of(tool: str) -> Budget:
    return BUDGETS.get(tool, Budget())


def current_budget() -> int:
    """Characters the running tool call may return inside its envelope (for tools that page by
    themselves: compare :func:`size` with it)."""
    return _current.get() - ENVELOPE_CHARS


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def size(value: Any) -> int:
    """Characters ``value`` takes inside the envelope (its compact JSON, escaped)."""
    return len(escape_for_envelope(compact(value)))


def take_budget(tool: str, arguments: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The call's budget and the arguments without ``max_chars``; a bad value is refused."""
    budget = budget_of(tool)
    if MAX_ARG not in arguments or budget.maximum <= budget.default:
        # Not offered where it cannot raise the cap: the tool's own validation sees it.
        return budget.default, arguments
    rest = {k: v for k, v in arguments.items() if k != MAX_ARG}
    value = arguments[MAX_ARG]
    if not (isinstance(value, int) and not isinstance(value, bool)) or not (
        1_000 <= value <= budget.maximum
    ):
        raise ToolFailure(
            "INVALID_ARGUMENT", f"max_chars must be an integer from 1000 to {budget.maximum}"
        )
    return value, rest


def enter(chars: int) -> contextvars.Token[int]:
    return _current.set(chars)


def leave(token: contextvars.Token[int]) -> None:
    _current.reset(token)


# --- results ---------------------------------------------------------------------------------


def shape(tool: str, result: CallToolResult, chars: int) -> CallToolResult:
    """The result as compact JSON text within ``chars``, trimmed with a count if it was over."""
    data = result.structured_content
    # A result that is more than JSON text (an image with its summary) is already what the tool
    # means to show: cap its text, never replace it with the data behind it.
    pictures = any(not isinstance(block, TextContent) for block in result.content)
    if result.is_error or pictures or not isinstance(data, dict):
        return _cap_text(result, chars)
    text = compact(data)
    if len(escape_for_envelope(text)) > chars - ENVELOPE_CHARS:
        data = _trim(data, chars, budget_of(tool).keep)
        text = compact(data)
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=data,
        is_error=result.is_error,
        _meta=result.meta,
    )


def _cap_text(result: CallToolResult, chars: int) -> CallToolResult:
    room = chars - ENVELOPE_CHARS
    blocks: list[Any] = []
    changed = False
    for block in result.content:
        if isinstance(block, TextContent) and len(escape_for_envelope(block.text)) > room:
            keep = room
            while True:
                cut = len(block.text) - keep
                text = f"{block.text[:keep]}… [{cut} chars cut]"
                over = len(escape_for_envelope(text)) - room
                if over <= 0 or keep == 0:
                    break
                keep = max(0, keep - over)
            block = TextContent(type="text", text=text)
            changed = True
        blocks.append(block)
    return result.model_copy(update={"content": blocks}) if changed else result


def enveloped(result: CallToolResult) -> CallToolResult:
    """Every text block inside its own envelope; pictures and ``structuredContent`` as they are."""
    blocks = [
        block.model_copy(update={"text": envelope(block.text)})
        if isinstance(block, TextContent)
        else block
        for block in result.content
    ]
    return result.model_copy(update={"content": blocks})


def _lists(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], list[Any]]]:
    """Every non-empty list inside ``value`` with its path."""
    found: list[tuple[tuple[Any, ...], list[Any]]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_lists(item, (*path, key)))
    elif isinstance(value, list) and value:
        found.append((path, value))
        for i, item in enumerate(value):
            found.extend(_lists(item, (*path, i)))
    return found


def _set(root: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _hint(dropped: int, chars: int) -> str:
    return (
        f"{dropped} items left out to fit {chars} characters; ask for fewer "
        "(count/limit/symbols), a summary where offered, or a larger max_chars where offered"
    )


def _trim(data: dict[str, Any], chars: int, keep: str) -> dict[str, Any]:
    if not _lists(data):
        return data
    out = copy.deepcopy(data)
    dropped = 0
    out["truncated"] = 0
    out["hint"] = _hint(10**9, chars)  # room for the real hint, written at the end
    while size(out) > chars - ENVELOPE_CHARS:
        candidates = _lists(out)
        if not candidates:
            break
        path, items = max(candidates, key=lambda c: size(c[1]))
        kept = _largest_fit(out, path, items, chars, keep)
        dropped += len(items) - len(kept)
        _set(out, path, kept)
    out["truncated"] = dropped + int(data.get("truncated") or 0)
    out["hint"] = _hint(out["truncated"], chars)
    return out


def _largest_fit(
    root: dict[str, Any], path: tuple[Any, ...], items: list[Any], chars: int, keep: str
) -> list[Any]:
    """The most items of ``items`` (from the kept end) with which ``root`` fits ``chars``."""

    def part(n: int) -> list[Any]:
        if n == 0:
            return []
        return items[-n:] if keep == "tail" else items[:n]

    lo, hi = 0, len(items) - 1  # at least one item goes, so the caller's loop progresses
    while lo < hi:
        mid = (lo + hi + 1) // 2
        _set(root, path, part(mid))
        if size(root) <= chars - ENVELOPE_CHARS:
            lo = mid
        else:
            hi = mid - 1
    return part(lo)


# --- tools/list ------------------------------------------------------------------------------


def lean_tool(tool: Tool) -> Tool:
    """``tool`` as published: no generated titles, dedented text, the budget fields declared.

    What every tool shares (symbols, money as strings, ``truncated``/``hint``, paging,
    ``max_chars``' default) is said once in the server's instructions, not per tool.
    """
    params = _optional_as_omittable(_unbounded(_slim(tool.input_schema)))
    budget = budget_of(tool.name)
    if budget.maximum > budget.default:
        props = params.setdefault("properties", {})
        props[MAX_ARG] = {"type": "integer", "minimum": 1_000, "maximum": budget.maximum}
    output = tool.output_schema
    if output is not None:
        # Not closed (no additionalProperties: false), so ``truncated``/``hint`` added by a
        # trim still validate without being declared in every schema.
        output = _top_level_only(_undescribed(_shallow(_slim(output, output=True))))
        output = _without_echoes(output, params)
    changes = tool.annotations is not None and tool.annotations.read_only_hint is False
    return tool.model_copy(
        update={
            "description": reflow(tool.description or ""),
            "input_schema": params,
            "output_schema": output,
            # The name says what a read does; a human approving a change sees its title.
            "title": tool.title if changes else None,
        }
    )


# Result fields that only repeat the argument of the same name (the symbol asked about...).
_ECHOES = frozenset({"symbol", "market", "period", "adjusted", "category"})


def _without_echoes(output: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The output schema without the fields that repeat an argument: the model sent them, the
    result still carries them, and an open schema still accepts them."""
    props = output.get("properties")
    if not isinstance(props, dict):
        return output
    echoed = _ECHOES & set(params.get("properties", {}))
    return {**output, "properties": {k: v for k, v in props.items() if k not in echoed}}


def _top_level_only(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema that names every top-level field with its type, and no more: a list
    does not repeat its items' type, and a field that may be null is named without one (the
    result itself shows it). Every payload valid before stays valid."""
    props = schema.get("properties")
    if not isinstance(props, dict):
        return schema
    out: dict[str, Any] = {}
    for name, prop in props.items():
        if not isinstance(prop, dict):
            out[name] = prop
        elif isinstance(prop.get("type"), list) and "null" in prop["type"]:
            out[name] = {}
        elif prop.get("type") == "array" and set(prop) == {"type", "items"}:
            out[name] = {"type": "array"}
        else:
            out[name] = prop
    return {**schema, "properties": out}


def _optional_as_omittable(schema: dict[str, Any]) -> dict[str, Any]:
    """Optional arguments whose default is "none" published without the ``null`` arm.

    Leaving such an argument out means exactly what ``null`` means, so the schema offers the
    shorter way; the server still accepts an explicit ``null``.
    """
    required = set(schema.get("required", []))
    props = schema.get("properties")
    if not isinstance(props, dict):
        return schema
    out = dict(schema)
    out["properties"] = {
        name: prop if name in required or "default" in prop else _without_null(prop)
        for name, prop in props.items()
    }
    return out


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    kind = prop.get("type")
    if isinstance(kind, list) and len(kind) == 2 and "null" in kind:
        return {**prop, "type": next(k for k in kind if k != "null")}
    arms = prop.get("anyOf")
    if isinstance(arms, list) and len(arms) == 2 and {"type": "null"} in arms:
        other = arms[0] if arms[1] == {"type": "null"} else arms[1]
        rest = {k: v for k, v in prop.items() if k != "anyOf"}
        if isinstance(other, dict) and not (set(other) & set(rest)):
            return {**other, **rest}
    return prop


_STRING_TYPES = ("string", ["string", "null"])


def _unbounded(schema: Any) -> Any:
    """An input schema without the length caps and patterns of strings and without
    ``minItems: 1``: the server checks them (INVALID_ARGUMENT) and they tell a model nothing it
    would send anyway."""
    if isinstance(schema, list):
        return [_unbounded(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            out[key] = {name: _unbounded(sub) for name, sub in value.items()}
        elif key in ("maxLength", "minLength", "pattern") and schema.get("type") in (
            "string",
            ["string", "null"],
        ):
            continue
        elif key == "minItems" and value == 1:
            continue  # an empty list is refused with a clear message, and nobody sends one
        else:
            out[key] = _unbounded(value)
    return out


def _undescribed(schema: Any) -> Any:
    """An output schema without prose: the tool's description says what its result means, and
    a client checking a payload needs only the shapes."""
    if isinstance(schema, list):
        return [_undescribed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            out[key] = {name: _undescribed(sub) for name, sub in value.items()}
        elif key not in ("description", "format", "examples"):
            out[key] = _undescribed(value)
    return out


def reflow(doc: str) -> str:
    """A docstring as a model reads it best: no indentation, one line per paragraph."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _slim(schema: Any, *, output: bool = False, in_properties: bool = False) -> Any:
    """A copy of ``schema`` without pydantic's generated ``title`` keywords.

    Keys of a ``properties`` or ``$defs`` mapping are names, never keywords, so a field that is
    itself called ``title`` survives. In an output schema (what the server promises, not what it
    checks) the repeated decimal pattern and time description, defaults, ``required`` and
    ``additionalProperties`` go. Every payload valid before stays valid.
    """
    if isinstance(schema, list):
        return [_slim(item, output=output) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if in_properties:
            out[key] = _slim(value, output=output)
        elif key == "title" and isinstance(value, str):
            continue
        elif key == "default" and value is None:
            continue  # an optional argument left out already means "none"
        elif key in ("properties", "$defs", "patternProperties"):
            out[key] = _slim(value, output=output, in_properties=True)
        else:
            out[key] = _slim(value, output=output)
    if in_properties:
        return out
    return _merge_null(_shorten(out) if output else out)


_LONG_FORMS = (
    ("pattern", DECIMAL_PATTERN),
    ("description", "exact decimal as a string"),
    ("description", "UTC, ISO 8601"),
)


def _shorten(schema: dict[str, Any]) -> dict[str, Any]:
    for key, value in _LONG_FORMS:
        if schema.get(key) == value:
            del schema[key]
    # A client checks a payload against these; a model reads them. Neither needs the full
    # list of always-present fields nor the closed-world marker repeated in every object.
    for key in ("default", "required", "additionalProperties"):
        schema.pop(key, None)
    return schema


def _merge_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [{type: T, ...}, {type: null}]`` as ``type: [T, null]``: the same values pass,
    because every other keyword of the arm applies only to values of type T."""
    arms = schema.get("anyOf")
    if not (isinstance(arms, list) and len(arms) == 2 and {"type": "null"} in arms):
        return schema
    other = arms[0] if arms[1] == {"type": "null"} else arms[1]
    if not isinstance(other, dict) or not isinstance(other.get("type"), str):
        return schema
    if any(k in other for k in ("$ref", "anyOf", "oneOf", "allOf", "enum", "const")):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**other, **rest, "type": [other["type"], "null"]}


def _shallow(schema: dict[str, Any]) -> dict[str, Any]:
    """The output schema with nested models as plain objects: the top level (what a model
    branches on) stays typed and described, and every payload still validates. A nested enum
    or scalar definition is inlined instead."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(n) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = defs.get(ref.removeprefix("#/$defs/"), {})
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if target.get("type") == "object" or "properties" in target:
                return {"type": "object", **rest}
            return {**resolve(target), **rest}
        return _merge_null({k: resolve(v) for k, v in node.items()})

    out: dict[str, Any] = resolve(schema)
    return out


__all__ = [
    "BUDGETS",
    "DEFAULT_CHARS",
    "MAX_ARG",
    "Budget",
    "budget_of",
    "compact",
    "current_budget",
    "enter",
    "lean_tool",
    "leave",
    "reflow",
    "shape",
    "take_budget",
]
