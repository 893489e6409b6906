"""The layer rules of STYLE.md §3, pinned so they cannot erode: server -> sdk <- sim."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lb_mcp"

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "sdk": ("mcp", "lb_mcp.server", "lb_mcp.sim", "starlette", "uvicorn"),
    "server": ("websockets", "google.protobuf", "httpx", "lb_mcp.sim", "lb_mcp.sdk.proto"),
    "sim": ("mcp", "lb_mcp.server"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
    return names


def _modules(layer: str) -> list[Path]:
    return sorted(p for p in (PACKAGE / layer).rglob("*.py") if not p.name.endswith("_pb2.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_its_side_of_the_boundary_allows(layer: str) -> None:
    offenders = []
    for path in _modules(layer):
        for name in _imports(path):
            for banned in FORBIDDEN[layer]:
                if name == banned or name.startswith(banned + "."):
                    offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def test_the_package_ships_a_py_typed_marker() -> None:
    assert (PACKAGE / "py.typed").is_file()
