"""Twilio Media Streams (bidirectional): the messages Twilio sends us and the ones we send it."""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from bridge.protocol import ProtocolError, strict_b64


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str = "Call"


@dataclass(frozen=True, slots=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str = ""
    custom_parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000


@dataclass(frozen=True, slots=True)
class Media:
    payload: str  # base64 mu-law, forwarded as is
    audio: bytes
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    name: str


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class Stop:
    call_sid: str = ""


TwilioEvent = Connected | Start | Media | Mark | Dtmf | Stop


def _field(obj: dict[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise ProtocolError(f"Twilio {obj.get('event')!r} message without {'.'.join(path)}")
        value = value[key]
    return value


def parse(text: str | bytes) -> TwilioEvent:
    """The general path for any Twilio message (the hot `media` one has a fused fast path)."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"Twilio message is not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("Twilio message is not a JSON object")
    event = msg.get("event")
    if event == "media":
        payload = _field(msg, "media", "payload")
        if not isinstance(payload, str):
            raise ProtocolError("Twilio media.payload is not a string")
        try:
            audio = strict_b64(payload)
        except (binascii.Error, ValueError):
            raise ProtocolError("Twilio media.payload is not valid base64") from None
        ts = msg["media"].get("timestamp")
        return Media(payload, audio, int(ts) if isinstance(ts, str | int) and str(ts).isdigit() else None)
    if event == "start":
        start = _field(msg, "start")
        if not isinstance(start, dict):
            raise ProtocolError("Twilio start is not an object")
        fmt = start.get("mediaFormat") or {}
        params = start.get("customParameters") or {}
        if not isinstance(fmt, dict):
            raise ProtocolError("Twilio start.mediaFormat is not an object")
        rate = fmt.get("sampleRate", 8000)
        if not isinstance(rate, int | str) or not str(rate).isdigit():
            raise ProtocolError("Twilio start.mediaFormat.sampleRate is not a number")
        return Start(
            stream_sid=str(_field(msg, "start", "streamSid")),
            call_sid=str(start.get("callSid", "")),
            account_sid=str(start.get("accountSid", "")),
            custom_parameters={str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {},
            encoding=str(fmt.get("encoding", "audio/x-mulaw")),
            sample_rate=int(rate),
        )
    if event == "mark":
        return Mark(str(_field(msg, "mark", "name")))
    if event == "dtmf":
        return Dtmf(str(_field(msg, "dtmf", "digit")))
    if event == "stop":
        stop = msg.get("stop") or {}
        return Stop(str(stop.get("callSid", "")) if isinstance(stop, dict) else "")
    if event == "connected":
        return Connected(str(msg.get("protocol", "Call")))
    raise ProtocolError(f"unknown Twilio event {event!r}")


def media(stream_sid: str, payload_b64: str) -> str:
    return '{"event":"media","streamSid":"%s","media":{"payload":"%s"}}' % (stream_sid, payload_b64)  # noqa: UP031


def mark(stream_sid: str, name: str) -> str:
    return orjson.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}).decode()


def clear(stream_sid: str) -> str:
    return orjson.dumps({"event": "clear", "streamSid": stream_sid}).decode()
