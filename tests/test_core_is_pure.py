"""core/ and protocol/ do no I/O: they import no asyncio, sockets, sqlite3, logging or time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bridge

FORBIDDEN = {"asyncio", "socket", "sqlite3", "logging", "time", "aiohttp", "websockets", "threading"}
ROOT = Path(bridge.__file__).parent
PURE = sorted([*(ROOT / "core").glob("*.py"), *(ROOT / "protocol").glob("*.py")])


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_io_imports(path):
    assert not imported(path) & FORBIDDEN


def test_core_does_not_reach_into_the_server_intake_or_simulators():
    for path in PURE:
        text = path.read_text("utf-8")
        for outside in ("bridge.server", "bridge.intake", "bridge.sim", "bridge.cli"):
            assert outside not in text, f"{path.name} imports {outside}"
