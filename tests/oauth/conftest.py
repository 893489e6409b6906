"""Shared by the tests that run ``lb-mcp`` commands as processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oauth.cli_rig import SimProcess, sim_process


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """``lb-mcp sim`` in a subprocess, one per test module."""
    with sim_process(tmp_path_factory.mktemp("sim")) as running:
        yield running
