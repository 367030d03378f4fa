"""`fastgate-bridge loadtest` from the command line, short: both servers measured in one run, the JSON
and the chart written, and the soak mode's report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge.load.run import headline


def loadtest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", "loadtest", *args], capture_output=True, text=True, timeout=300
    )


def test_a_short_ramp_measures_fastgate_and_the_tutorial_relay_in_one_run(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    done = loadtest("--steps", "4,8", "--window", "10", "--out-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "loadtest.json").read_text())
    assert (tmp_path / "loadtest.png").stat().st_size > 10_000
    assert [r["server"] for r in result["results"]] == ["tutorial", "fastgate"]
    assert result["machine"]["cores"] and "ratio" in done.stdout
    for series in result["results"]:
        for step in series["steps"]:
            assert step["calls_held"] == step["calls"] and step["frames_lost"] == 0
            assert (
                step["frames_sent"] > step["calls"] * 10 / 0.02 * 0.9
            )  # every caller's frames, all appended
            assert step["forward_ms"]["p99"] is not None and step["cpu_ms_per_call_second"] > 0
            assert isinstance(step["rss_kib_per_idle_call"], float)
    ours = result["results"][1]["steps"][-1]
    assert ours["barge_ins"] >= 4 and ours["barge_ins_missed"] == 0  # each caller interrupted the AI
    assert ours["onset_to_clear_ms"]["p99"] < 200  # the pause on the bridge's own hearing
    ran = [line.split()[0] for line in done.stdout.splitlines() if " calls  CPU " in line]
    assert ran == ["tutorial", "fastgate", "fastgate", "tutorial"]  # each step against both, order rotating


def test_the_floor_relay_forwards_every_frame_and_is_compared_with_the_tutorial(tmp_path: Path) -> None:
    done = loadtest("--steps", "4", "--window", "3", "--floor", "--no-plot", "--out-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "loadtest.json").read_text())
    assert [r["server"] for r in result["results"]] == ["picows relay", "tutorial", "fastgate"]
    (floor,) = result["results"][0]["steps"]
    assert floor["calls_held"] == 4 and floor["frames_lost"] == 0 and floor["barge_ins_missed"] == 0
    assert floor["appends_per_call_second"] == pytest.approx(50, abs=1)  # one append per frame
    assert "picows relay" in done.stdout and "ratio" in done.stdout


def test_workers_are_ramped_beside_one_worker_and_measured_as_a_whole(tmp_path: Path) -> None:
    done = loadtest(
        "--steps", "6", "--window", "3", "--no-baseline", "--no-pin", "--workers", "2", "--no-plot",
        "--out-dir", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "loadtest.json").read_text())
    assert [(r["server"], r["workers"]) for r in result["results"]] == [
        ("fastgate", 1),
        ("fastgate ×2 workers", 2),
    ]
    (step,) = result["results"][1]["steps"]
    assert step["calls_held"] == 6 and step["frames_lost"] == 0
    assert 0 < step["busiest_process_cpu_percent"] <= step["cpu_percent"]
    assert "fastgate ×2 workers:" in done.stdout and "one worker" in done.stdout


def test_the_soak_mode_reports_memory_descriptors_and_frames(tmp_path: Path) -> None:
    done = loadtest("--soak-minutes", "0.25", "--calls", "4", "--out-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    soak = json.loads((tmp_path / "soak.json").read_text())
    assert len(soak["rounds"]) >= 3 and soak["frames_lost"] == 0 and soak["calls_dropped"] == 0
    assert isinstance(soak["rss_growth_percent"], float)
    first, last = soak["idle_fds_first_last"]
    assert last <= first + 2  # no socket left behind by the calls that ended


def test_bad_steps_are_a_usage_error() -> None:
    done = loadtest("--steps", "ten")
    assert done.returncode == 2 and "comma-separated numbers of calls" in done.stderr


def step(calls: int, forward_p99: float, reaction_p99: float | None = 1.0, lost: int = 0) -> dict[str, Any]:
    return {
        "calls": calls,
        "calls_held": calls,
        "frames_lost": lost,
        "barge_ins_missed": 0,
        "forward_ms": {"p99": forward_p99},
        "reaction_ms": {"p99": reaction_p99},
    }


def test_the_headline_is_the_last_step_before_the_first_that_fails() -> None:
    steps = [step(100, 2.0), step(200, 4.0), step(300, 16.0), step(400, 9.0), step(500, 40.0)]
    assert headline({"steps": steps}) == 200  # 400 passing after 300 failed is noise, not capacity
    assert headline({"steps": [step(100, 2.0, reaction_p99=6.0)]}) == 0
    assert headline({"steps": [step(100, 2.0), step(200, 2.0, lost=1)]}) == 100
    assert headline({"steps": [step(200, 3.0, reaction_p99=None), step(100, 1.0)]}) == 200
