"""Scenario files (TOML): what the caller says and when, what the AI answers, and the line's settings."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

AUDIO_DIR = files("bridge.sim") / "audio"
SCENARIO_DIR = files("bridge.sim") / "scenarios"
SAMPLE_RATE = 8000


class ScenarioError(ValueError):
    """A scenario file that cannot be played, with the reason."""


def load_audio(name: str, base: Path | None = None) -> bytes:
    """Raw 8 kHz mu-law: a shipped fixture by name, or a path (relative to the scenario file)."""
    if base is not None and (base / name).is_file():
        return (base / name).read_bytes()
    shipped = AUDIO_DIR / f"{name}.ulaw"
    if shipped.is_file():
        return shipped.read_bytes()
    path = Path(name)
    if path.is_file():
        return path.read_bytes()
    raise ScenarioError(f"audio {name!r} is neither a shipped fixture nor a file")


def audio_ms(audio: bytes) -> int:
    return len(audio) * 1000 // SAMPLE_RATE


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """One AI answer: the audio the simulated model speaks, its transcript, and tool calls."""

    audio: bytes
    transcript: str
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class Utterance:
    """One thing the caller says. Starts at `at_ms` into the call, or `offset_ms` after the
    caller starts hearing the AI's reply number `after_ai_starts` (1-based)."""

    audio: bytes
    transcript: str
    at_ms: int | None = None
    after_ai_starts: int | None = None
    offset_ms: int = 0
    speech: bool = True  # False for coughs and bangs: the transcript comes back empty
    interrupts: bool = True  # False for a cough or a backchannel: the AI should go on (grading)


@dataclass(frozen=True)
class RealtimeSettings:
    delta_ms: int = 100  # audio per response.output_audio.delta
    speed: float = 4.0  # how much faster than real time replies stream
    inflight_deltas: int = 2  # deltas still delivered after a response.cancel
    vad_rms: int = 500  # int16 RMS the simulated server VAD hears as voice at threshold 0.5
    first_delta_ms: int = 120  # model latency before the first audio delta
    vad_delay_ms: int = 0  # the server VAD reports speech_started/stopped this much after detecting it
    network_ms: int = 0  # one-way latency between the bridge and the Realtime server, each direction
    # A reply whose response was cancelled before any output is played by the next response instead;
    # false where the script means "the model moved on" (its next reply answers the new words).
    replay_unstarted: bool = True
    # OpenAI ends a session at 60 minutes: an `error` (code session_expired), then the socket closes
    max_session_s: float = 3600.0


@dataclass(frozen=True)
class CallerSettings:
    noise: bytes | None = None
    hangup_after_ms: int = 1500  # quiet after the last scripted line before hanging up
    max_ms: int = 60000
    echo_marks_on_clear: bool = True
    caller_id: str = "+972541234567"
    dtmf: tuple[tuple[int, str], ...] = ()
    network_ms: int = 0  # one-way latency between Twilio and the bridge, each direction
    echo_gain_db: float | None = None  # speakerphone: the AI's voice comes back on the caller's track
    echo_delay_ms: int = 150


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    replies: tuple[Reply, ...]
    utterances: tuple[Utterance, ...]
    caller: CallerSettings = field(default_factory=CallerSettings)
    realtime: RealtimeSettings = field(default_factory=RealtimeSettings)
    session: dict[str, Any] = field(default_factory=dict)  # bridge session settings in `simulate`
    expect: dict[str, Any] = field(default_factory=dict)  # what a correct bridge produces


def _tool_calls(raw: list[dict[str, Any]]) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(str(c["name"]), dict(c.get("arguments", {}))) for c in raw)


def parse_scenario(data: dict[str, Any], base: Path | None = None) -> Scenario:
    try:
        replies = tuple(
            Reply(
                load_audio(r["audio"], base),
                str(r.get("transcript", "")),
                _tool_calls(r.get("tool_calls", [])),
            )
            for r in data.get("replies", [])
        )
        utterances = []
        for u in data.get("caller", {}).get("utterances", []):
            if ("at_ms" in u) == ("after_ai_starts" in u):
                raise ScenarioError("each utterance needs exactly one of at_ms or after_ai_starts")
            utterances.append(
                Utterance(
                    audio=load_audio(u["audio"], base),
                    transcript=str(u.get("transcript", "")),
                    at_ms=u.get("at_ms"),
                    after_ai_starts=u.get("after_ai_starts"),
                    offset_ms=int(u.get("offset_ms", 0)),
                    speech=bool(u.get("speech", True)),
                    interrupts=bool(u.get("interrupts", u.get("speech", True))),
                )
            )
        caller_raw = {k: v for k, v in data.get("caller", {}).items() if k != "utterances"}
        noise = caller_raw.pop("noise", None)
        dtmf = tuple((int(d["at_ms"]), str(d["digit"])) for d in caller_raw.pop("dtmf", []))
        caller = CallerSettings(noise=load_audio(noise, base) if noise else None, dtmf=dtmf, **caller_raw)
        realtime = RealtimeSettings(**data.get("realtime", {}))
    except KeyError as exc:
        raise ScenarioError(f"missing key {exc}") from exc
    except TypeError as exc:
        raise ScenarioError(str(exc)) from exc
    return Scenario(
        name=str(data.get("name", "unnamed")),
        description=str(data.get("description", "")),
        replies=replies,
        utterances=tuple(utterances),
        caller=caller,
        realtime=realtime,
        session=dict(data.get("session", {})),
        expect=dict(data.get("expect", {})),
    )


def scenario_names() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in SCENARIO_DIR.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name (see scenario_names()) or a TOML file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        return parse_scenario(tomllib.loads(path.read_text("utf-8")), path.parent)
    shipped = SCENARIO_DIR / f"{name_or_path}.toml"
    if not shipped.is_file():
        raise ScenarioError(f"no scenario {name_or_path!r}; shipped: {', '.join(scenario_names())}")
    return parse_scenario(tomllib.loads(shipped.read_text("utf-8")))
