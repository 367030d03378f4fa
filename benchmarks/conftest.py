"""Per-item figures (ns per frame or message) for every benchmark, printed side by side at the end."""

from __future__ import annotations

from collections import defaultdict

import pytest

RESULTS: dict[str, list[tuple[str, float, bool]]] = defaultdict(list)


@pytest.fixture
def per_item(benchmark):
    """Run `func(batch)` under pytest-benchmark and record its median time per item."""

    def run(group: str, label: str, func, batch, *, ours: bool = False):
        """`batch` is a list, or a callable making a fresh one per round (state that one run uses up)."""
        benchmark.group = group
        if callable(batch):
            size = len(batch())
            result = benchmark.pedantic(func, setup=lambda: ((batch(),), {}), rounds=15, iterations=1)
        else:
            size = len(batch)
            result = benchmark(func, batch)
        benchmark.extra_info["items"] = size
        if benchmark.stats is not None:
            RESULTS[group].append((label, benchmark.stats.stats.median * 1e9 / size, ours))
        return result

    return run


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    terminalreporter.section("fastgate: median time per item (same run)")
    for group, rows in sorted(RESULTS.items()):
        terminalreporter.write_line(f"{group}:")
        for label, ns, ours in sorted(rows, key=lambda row: row[1]):
            mark = "*" if ours else " "
            terminalreporter.write_line(f"  {mark} {label:<52s} {ns:10.1f} ns")
