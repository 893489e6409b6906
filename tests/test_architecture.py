"""The architecture, pinned so it cannot erode: server -> sdk <- sim, sub-packages by job.

Imports are read from the source (``ast``), every kind counted: module level, inside functions and
under ``TYPE_CHECKING`` alike, because each one is a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lb_mcp"
MAX_MODULES_PER_FOLDER = 12

# importer prefix -> module prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "lb_mcp.sdk": ("mcp", "lb_mcp.server", "lb_mcp.sim", "starlette", "uvicorn"),
    # The protocol core is sans-I/O: bytes in, bytes and events out.
    "lb_mcp.sdk.wire": (
        "asyncio",
        "websockets",
        "httpx",
        "lb_mcp.sdk.transport",
        "lb_mcp.sdk.quote",
        "lb_mcp.sdk.trade",
    ),
    "lb_mcp.sdk.transport": ("lb_mcp.sdk.quote", "lb_mcp.sdk.trade"),
    "lb_mcp.sdk.quote": ("lb_mcp.sdk.trade",),
    "lb_mcp.sdk.trade": ("lb_mcp.sdk.quote",),
    "lb_mcp.server": (
        "websockets",
        "google.protobuf",
        "httpx",
        "lb_mcp.sim",
        "lb_mcp.sdk.wire",
        "lb_mcp.sdk.transport",
    ),
    # Tools reach the broker's write side only through the gate's entry point.
    "lb_mcp.server.tools": ("lb_mcp.server.gate.delivery", "lb_mcp.server.gate.records"),
    "lb_mcp.server.gate": ("lb_mcp.server.tools", "lb_mcp.server.streams", "lb_mcp.server.app"),
    "lb_mcp.server.gate.records": ("lb_mcp.server.gate.delivery", "lb_mcp.server.gate.service"),
    "lb_mcp.server.streams": ("lb_mcp.server.gate",),
    "lb_mcp.sim": ("mcp", "lb_mcp.server"),
    "lb_mcp.sim.market": ("lb_mcp.sim.exchange", "lb_mcp.sim.wire"),
    "lb_mcp.sim.exchange": ("lb_mcp.sim.wire",),
}

# The simulator shares the protocol core and the vocabulary with the SDK, never its clients.
SIM_MAY_USE_FROM_SDK = (
    "lb_mcp.sdk.wire",
    "lb_mcp.sdk.enums",
    "lb_mcp.sdk.errors",
    "lb_mcp.sdk.config",
    "lb_mcp.sdk.transport.signing",  # the simulator verifies signatures with the same function
)

# Broker write calls; only the gate's exactly-once sender may make them.
WRITE_CALLS = frozenset({"submit_order", "replace_order", "cancel_order"})
WRITERS = ("lb_mcp.server.gate.delivery.send",)


def _name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


@cache
def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name.endswith("_pb2.py"):
            continue
        name, is_package = _name(path)
        out[name] = (path, is_package)
    return out


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(_modules()[module][0].read_text(encoding="utf-8"))


@cache
def _imports(module: str) -> frozenset[str]:
    """Every name ``module`` imports, as absolute dotted names (``from a import b`` -> a, a.b)."""
    _, is_package = _modules()[module]
    names: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return frozenset(names)


def _internal_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: {i for i in _imports(m) if i in modules and i != m} for m in modules}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_module_of_lb_mcp_is_part_of_an_import_cycle() -> None:
    assert _cycles(_internal_graph()) == []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_sub_package_imports_only_what_its_place_allows(layer: str) -> None:
    offenders = [
        f"{module} imports {name}"
        for module in _modules()
        if _matches(module, layer)
        for name in _imports(module)
        for banned in FORBIDDEN[layer]
        if _matches(name, banned)
    ]
    assert offenders == []


def test_the_simulator_uses_only_the_protocol_core_and_vocabulary_of_the_sdk() -> None:
    offenders = [
        f"{module} imports {name}"
        for module in _modules()
        if _matches(module, "lb_mcp.sim")
        for name in _imports(module)
        if _matches(name, "lb_mcp.sdk")
        and name != "lb_mcp.sdk"
        and not any(_matches(name, allowed) for allowed in SIM_MAY_USE_FROM_SDK)
    ]
    assert offenders == []


def test_only_the_gates_sender_calls_the_brokers_write_methods() -> None:
    offenders = []
    for module in _modules():
        if not _matches(module, "lb_mcp.server") or module in WRITERS:
            continue
        for node in ast.walk(_tree(module)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in WRITE_CALLS
            ):
                offenders.append(f"{module}:{node.lineno} calls .{node.func.attr}()")
    assert offenders == []


def test_no_folder_holds_more_than_a_dozen_modules() -> None:
    crowded = {}
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        if folder.name == "__pycache__":
            continue
        count = sum(
            1
            for p in folder.glob("*.py")
            if p.name != "__init__.py" and not p.name.endswith("_pb2.py")
        )
        if count > MAX_MODULES_PER_FOLDER:
            crowded[str(folder.relative_to(PACKAGE))] = count
    assert crowded == {}


def test_every_sub_package_says_what_it_is_for() -> None:
    undocumented = [
        name
        for name, (_, is_package) in _modules().items()
        if is_package and not ast.get_docstring(_tree(name))
    ]
    assert undocumented == []


def test_the_package_ships_a_py_typed_marker() -> None:
    assert (PACKAGE / "py.typed").is_file()
