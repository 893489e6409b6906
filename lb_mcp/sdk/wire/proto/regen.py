"""Regenerate the committed ``*_pb2.py`` / ``*_pb2.pyi`` modules from the ``.proto`` files.

Run from anywhere::

    python -m lb_mcp.sdk.wire.proto.regen            # rewrite the modules next to this file
    python -m lb_mcp.sdk.wire.proto.regen OUT_DIR    # write them into OUT_DIR instead

protoc is run with the directory that holds ``lb_mcp`` as its include root, so every file is
registered in the descriptor pool under its package path
(``lb_mcp/sdk/wire/proto/quote.proto``) and the
generated classes report ``lb_mcp.sdk.wire.proto.quote_pb2`` as their module. A generic name such as
``control.proto`` would collide with any other library that registers one.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
PROTO_FILES = ("control.proto", "quote.proto", "trade.proto")
_INCLUDE_ROOT = PROTO_DIR.parents[3]  # the directory that contains the ``lb_mcp`` package
_PACKAGE_PATH = PROTO_DIR.relative_to(_INCLUDE_ROOT)


def generated_names() -> list[str]:
    """File names regen() writes, e.g. ``quote_pb2.py`` and ``quote_pb2.pyi``."""
    stems = [name.removesuffix(".proto") for name in PROTO_FILES]
    return [f"{stem}_pb2{ext}" for stem in stems for ext in (".py", ".pyi")]


def regen(out_dir: Path | None = None) -> list[Path]:
    """Compile the three schemas with ``grpc_tools.protoc`` into ``out_dir`` (default: here)."""
    from grpc_tools import protoc  # test/dev dependency only; never imported at runtime

    target = PROTO_DIR if out_dir is None else Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"--proto_path={_INCLUDE_ROOT}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            *(str(_PACKAGE_PATH / name) for name in PROTO_FILES),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed; see its output above")
        written = []
        for name in generated_names():
            dest = target / name
            shutil.copyfile(Path(tmp) / _PACKAGE_PATH / name, dest)
            written.append(dest)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else None
    for path in regen(out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
