"""Server events as the beta Realtime API (`OpenAI-Beta: realtime=v1`) sent them: names and payloads.

The simulator builds GA events; a beta client gets each one converted here, checked against the types in
`openai.types.beta.realtime`. GA-only events a beta client never saw return None.
"""

from __future__ import annotations

from typing import Any

from bridge.protocol.realtime import BETA_NAMES as PARSER_BETA_NAMES

# The parser's beta -> GA table, read the other way: one list of renamed events for both directions.
BETA_NAMES = {ga: beta for beta, ga in PARSER_BETA_NAMES.items()}
GA_ONLY = {"conversation.item.done"}
BETA_FORMATS = {"g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma", "pcm16": "audio/pcm"}
GA_FORMATS = {ga: beta for beta, ga in BETA_FORMATS.items()}
BETA_CONTENT = {"output_audio": "audio", "output_text": "text"}


def to_beta(event: dict[str, Any]) -> dict[str, Any] | None:
    kind = event["type"]
    if kind in GA_ONLY:
        return None
    out = {**event, "type": BETA_NAMES.get(kind, kind)}
    if kind in ("session.created", "session.updated"):
        out["session"] = beta_session(event["session"])
    if isinstance(event.get("item"), dict):
        out["item"] = beta_item(event["item"])
    if isinstance(event.get("part"), dict):
        out["part"] = _beta_content(event["part"])
    if isinstance(event.get("response"), dict):
        out["response"] = beta_response(event["response"])
    return out


def beta_session(session: dict[str, Any]) -> dict[str, Any]:
    audio = session.get("audio", {})
    inp, outp = audio.get("input", {}), audio.get("output", {})
    beta: dict[str, Any] = {
        "id": session.get("id"),
        "object": "realtime.session",
        "model": session.get("model"),
        "modalities": ["audio", "text"]
        if "audio" in session.get("output_modalities", ["audio"])
        else ["text"],
        "instructions": session.get("instructions", ""),
        "voice": outp.get("voice", "alloy"),
        "input_audio_format": _beta_format(inp.get("format")),
        "output_audio_format": _beta_format(outp.get("format")),
        "input_audio_transcription": inp.get("transcription"),
        "turn_detection": inp.get("turn_detection"),
        "tools": session.get("tools", []),
        "tool_choice": session.get("tool_choice", "auto"),
    }
    return beta


def _beta_format(fmt: Any) -> str:
    if isinstance(fmt, dict):
        return GA_FORMATS.get(str(fmt.get("type")), "pcm16")
    return "pcm16"


def beta_item(item: dict[str, Any]) -> dict[str, Any]:
    out = {**item, "object": "realtime.item"}
    if isinstance(item.get("content"), list):
        out["content"] = [_beta_content(c) for c in item["content"]]
    return out


def _beta_content(part: dict[str, Any]) -> dict[str, Any]:
    return {**part, "type": BETA_CONTENT.get(part.get("type", ""), part.get("type"))}


def beta_response(response: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in response.items() if k not in ("output_modalities", "audio")}
    if "output_modalities" in response:
        out["modalities"] = response["output_modalities"]
    if isinstance(response.get("output"), list):
        out["output"] = [beta_item(i) for i in response["output"]]
    return out
