"""The load test's picture: calls against server CPU and against p99 forwarding latency, per server."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_load(result: dict[str, Any], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cpu, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    for series in result["results"]:
        steps = series["steps"]
        calls = [s["calls"] for s in steps]
        cpu.plot(calls, [s["cpu_percent"] for s in steps], marker="o", label=series["server"])
        latency.plot(calls, [s["forward_ms"]["p99"] for s in steps], marker="o", label=series["server"])
    cpu.set(xlabel="concurrent calls", ylabel="server CPU (% of one core)", title="CPU")
    latency.set(
        xlabel="concurrent calls", ylabel="p99 caller frame → Realtime (ms)", title="forwarding latency"
    )
    latency.axhline(10, color="grey", linestyle=":", linewidth=1)
    for ax in (cpu, latency):
        ax.grid(alpha=0.3)
        ax.legend()
    m = result["machine"]
    fig.suptitle(
        f"fastgate-bridge loadtest · {m['cpu']} · {m['cores']} cores · Python {m['python']}", fontsize=9
    )
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
