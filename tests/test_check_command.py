"""`fastgate-bridge check` grades a bridge it starts as a process: ours passes, the tutorial pattern fails.

Both bridges are real processes talking to the shipped simulators over loopback websockets; the
verdict is the command's last line and exit status, as a CI job of another team would read them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

OURS = "{python} -m bridge.cli serve --host {host} --port {port} --realtime-url {rt_url} --no-intake"
TUTORIAL = "{python} -m bridge.load.tutorial_relay {port} {rt_url}"


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", "check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def bridge(template: str) -> str:
    return template.replace("{python}", sys.executable)


def test_fastgate_bridge_passes_every_check(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = check(
        "--bridge-cmd",
        bridge(OURS),
        "--scenario",
        "seed-barge-in",
        "--scenario",
        "noise-only",
        "--time-scale",
        "0.5",
        "--json",
        str(report),
        "--plot",
        str(tmp_path / "plots"),
    )
    last = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout + done.stderr
    assert last.startswith("PASS ")
    results = json.loads(report.read_text("utf-8"))["results"]
    assert [r["scenario"] for r in results] == ["seed-barge-in", "noise-only"]
    assert all(c["pass"] for r in results for c in r["checks"])
    for name in ("seed-barge-in", "noise-only"):
        assert (tmp_path / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_tutorial_pattern_fails_on_stale_audio_and_the_missing_cancel() -> None:
    done = check("--bridge-cmd", bridge(TUTORIAL), "--scenario", "seed-barge-in", "--time-scale", "0.5")
    last = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 1, done.stdout + done.stderr
    assert last.startswith("FAIL ")
    assert "no stale audio after the clear" in last
    assert "response.cancel with the active id" in last
    assert "every caller frame forwarded unchanged" not in last  # it forwards audio faithfully


def test_a_bridge_that_dies_at_start_is_a_clear_error_not_a_hang() -> None:
    done = check("--bridge-cmd", f"{sys.executable} -c 'raise SystemExit(3)'", "--scenario", "seed-barge-in")
    assert done.returncode == 2
    assert done.stderr.strip() == "fastgate-bridge check: the bridge exited with status 3 before listening"


def test_usage_errors_are_one_line() -> None:
    neither = check("--scenario", "seed-barge-in")
    assert neither.returncode == 2
    assert "exactly one of --bridge-cmd or --bridge-url" in neither.stderr
    unknown = check("--bridge-cmd", bridge(OURS), "--scenario", "no-such-scenario")
    assert unknown.returncode == 2
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "no-such-scenario" in unknown.stderr
