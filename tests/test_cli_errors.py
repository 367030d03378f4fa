"""A newcomer's ordinary mistakes get one actionable line and a non-zero status, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("simulate", "no-such-scenario"), "no scenario 'no-such-scenario'"),
        (("simulate", "--time-scale", "0"), "must be more than 0"),
        (("simulate", "--profile", "/no/such/profile.toml"), "/no/such/profile.toml"),
        (("simulate", "--json", "/no/such/folder/x.json"), "the folder /no/such/folder does not exist"),
        (("leads", "--out", "/no/such/folder/x.csv"), "the folder /no/such/folder does not exist"),
        (("--log-level", "bogus", "scenarios"), "unknown log level 'bogus'"),
        (("scenarios", "--log-level", "bogus"), "unknown log level 'bogus'"),
        (("sim", "caller", "--url", "ws://127.0.0.1:9/media-stream"), "nothing listens at ws://127.0.0.1:9"),
    ],
)
def test_mistakes_are_one_line(args: tuple[str, ...], says: str) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert says in done.stderr.strip().splitlines()[-1]


def test_leads_on_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello, this is not SQLite\n" * 10)
    done = cli("leads", "--db", str(not_db))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"fastgate-bridge leads: {not_db}: file is not a database (--debug shows where)"
    )


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello, this is not SQLite\n" * 10)
    assert "Traceback" in cli("--debug", "leads", "--db", str(not_db)).stderr


def test_version_and_log_level_after_the_command() -> None:
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("fastgate-bridge ")
    assert cli("scenarios", "--log-level", "DEBUG").returncode == 0
