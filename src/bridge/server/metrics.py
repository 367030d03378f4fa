"""Prometheus metrics of the call server."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

# "livesum": with several workers (PROMETHEUS_MULTIPROC_DIR set) the calls of the live ones, summed
CALLS_ACTIVE = Gauge("fastgate_calls_active", "Calls in progress", multiprocess_mode="livesum")
CALLS_TOTAL = Counter("fastgate_calls_total", "Calls handled, by how they ended", ["outcome"])
BARGE_INS = Counter("fastgate_barge_ins_total", "Hard barge-ins performed")
BARGE_IN_REACTION = Histogram(
    "fastgate_barge_in_reaction_seconds",
    "speech_started received -> Twilio clear and response.cancel sent",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
CALLER_FRAMES = Counter("fastgate_caller_frames_total", "Caller frames, by what the gate did", ["result"])
LATE_DELTAS = Counter("fastgate_late_deltas_dropped_total", "Audio deltas of cancelled responses dropped")
REALTIME_ERRORS = Counter("fastgate_realtime_errors_total", "Realtime error events, by code", ["code"])
MALFORMED = Counter("fastgate_malformed_messages_total", "Messages skipped as malformed", ["source"])
CALLS_REFUSED = Counter("fastgate_calls_refused_total", "Calls turned away, by why", ["reason"])


def exposition() -> bytes:
    """This process's metrics, or, under `serve --workers N`, every worker's summed (prometheus-client's
    multiprocess mode: each worker writes its values to files in PROMETHEUS_MULTIPROC_DIR)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)
