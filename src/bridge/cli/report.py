"""Human-readable output of a simulated call: the timeline and the barge-in figures."""

from __future__ import annotations

from bridge.intake.store import LeadStore
from bridge.sim.simulation import Simulation


def print_simulation(sim: Simulation, *, gate_lines: bool = False) -> None:
    s = sim.scenario
    print(f"fastgate-bridge simulate: {s.name} (time scale {sim.time_scale:g})")
    print(f"  {s.description}\n")
    print(f"{'ms':>8}  {'who':<12} what")
    for t, who, what in sim.timeline(gate_lines=gate_lines):
        print(f"{t:8.0f}  {who:<12} {what}")
    st = sim.report.stats
    print(f"\ncall ended: {sim.report.ended} after {sim.report.duration_ms / 1000:.1f} s")
    print(
        f"caller frames: {st.frames_in} in, {st.frames_forwarded} forwarded as spoken, "
        f"{st.frames_silenced} gated to silence"
    )
    barge_ins = sim.barge_ins()
    report = sim.report
    went_on = report.false_interruptions
    print(f"pauses: {report.pauses}, of which false interruptions (the AI went on): {went_on}")
    if not barge_ins:
        print("barge-ins: none")
    for n, b in enumerate(barge_ins, 1):
        truncate = f"{b.truncate_ms} ms" if b.truncate_ms is not None else "none"
        print(f"barge-in {n}: the caller's voice began at {b.at_ms - sim.caller.started_at:.0f} ms")
        print(f"  the AI stopped (Twilio clear at the caller) after: {b.reaction_ms:.0f} ms")
        print(f"  AI audio the caller heard after starting to speak: {b.heard_after_onset_ms:.0f} ms")
        if b.cancel_after_speech_started_ms is not None:
            late = b.cancel_after_speech_started_ms
            print(f"  response.cancel after the server's speech_started: {late:.0f} ms")
        print(f"  AI audio heard after the clear: {b.heard_after_clear_ms:.0f} ms")
        cancel = "yes" if b.cancel_id_ok else "no (response already done)"
        print(f"  response.cancel with the active id: {cancel}")
        print(f"  truncate at {truncate}; the caller heard {b.heard_ms:.0f} ms")
        print(f"  late deltas of the cancelled response dropped: {sim.report.stats.late_deltas_dropped}")
        print(f"  caller frames of the utterance unchanged: {b.frames_unchanged}/{b.frames_checked}")
        print(f"  next answer created for the new utterance: {'yes' if b.next_response_after_turn else 'NO'}")
    errors = sim.errors()
    print("server errors: " + (", ".join(e.get("code", "?") for e in errors) if errors else "none"))


def print_leads(store: LeadStore, call_sid: str) -> None:
    for lead in store.leads():
        if lead.call_sid != call_sid:
            continue
        print(f"\nlead #{lead.id} ({lead.status}) in {store.path}:")
        for name, value in lead.fields.items():
            mark = "confirmed" if name in lead.confirmed else "NOT confirmed"
            print(f"  {name:8s} {value}  [{mark}]")
        if not lead.fields:
            print("  (no details)")
