"""Builders for the messages the two peers send, for sans-I/O tests."""

from __future__ import annotations

import base64
import json
from typing import Any

from bridge.core.actions import Action, EndCall, Log, SendRealtime, SendTwilio
from bridge.core.call import Call
from bridge.core.commands import Command
from bridge.core.config import CallConfig, LocalDetection

STREAM = "MZ00000000000000000000000000000001"
LOUD = bytes([0x80]) * 160  # the loudest mu-law code
QUIET = b"\xff" * 160


def hard(**settings: Any) -> CallConfig:
    """The server-VAD hard barge-in alone (local detection off): the rules as the server reports them."""
    return CallConfig(local=LocalDetection(enabled=False), **settings)


def media(frame: bytes, seq: int = 1) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq),
            "streamSid": STREAM,
            "media": {
                "track": "inbound",
                "chunk": str(seq),
                "timestamp": str(seq * 20),
                "payload": base64.b64encode(frame).decode(),
            },
        }
    )


def start(caller: str = "+972541234567") -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": STREAM,
            "start": {
                "streamSid": STREAM,
                "callSid": "CA1",
                "accountSid": "AC1",
                "tracks": ["inbound"],
                "customParameters": {"caller": caller},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


def mark(name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": STREAM, "sequenceNumber": "9", "mark": {"name": name}})


def rt(type_: str, **fields: Any) -> str:
    return json.dumps({"type": type_, "event_id": "event_x", **fields})


def delta(response_id: str, item_id: str, audio: bytes) -> str:
    return rt(
        "response.output_audio.delta",
        response_id=response_id,
        item_id=item_id,
        output_index=0,
        content_index=0,
        delta=base64.b64encode(audio).decode(),
    )


def created(response_id: str) -> str:
    return rt(
        "response.created",
        response={"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []},
    )


def done(response_id: str, status: str = "completed") -> str:
    return rt(
        "response.done",
        response={"id": response_id, "object": "realtime.response", "status": status, "output": []},
    )


class Harness:
    """A Call with its actions collected, and its application (if any) answering its events at once.

    The server runs the application in a task of its own and its writes on a thread; here both run
    synchronously, in the same order: a command is applied when the application returns it, a write
    performed.
    """

    def __init__(self, config: CallConfig | None = None, app: Any = None) -> None:
        tools = app.tools if app is not None else None
        self.call = Call(config or hard(greet_first=False), tools=tools, now_ms=0)
        self.app = app
        self.now = 0.0
        self.sent: list[Action] = []
        self.events: list[Any] = []

    def collect(self) -> list[Action]:
        actions = self.call.actions()
        while events := self.call.events():
            for event in events:
                self.events.append(event)
                for item in self.app.handle(event) if self.app is not None else ():
                    if isinstance(item, Command):
                        self.call.apply(item, self.now)
                    else:
                        self.app.perform(item)
            actions += self.call.actions()
        self.sent.extend(actions)
        return actions

    def twilio(self, text: str, at: float | None = None) -> list[Action]:
        self.now = self.now if at is None else at
        self.call.receive_twilio(text, self.now)
        return self.collect()

    def realtime(self, text: str, at: float | None = None) -> list[Action]:
        self.now = self.now if at is None else at
        self.call.receive_realtime(text, self.now)
        return self.collect()

    def tick(self, at: float) -> list[Action]:
        self.now = at
        self.call.tick(at)
        return self.collect()

    def ready(self) -> None:
        self.call.realtime_connected(0)
        self.realtime(rt("session.updated", session={}))
        self.twilio(start())
        self.collect()


def to_realtime(actions: list[Action]) -> list[dict[str, Any]]:
    return [json.loads(a.text) for a in actions if isinstance(a, SendRealtime)]


def to_twilio(actions: list[Action]) -> list[dict[str, Any]]:
    return [json.loads(a.text) for a in actions if isinstance(a, SendTwilio)]


def logs(actions: list[Action]) -> list[str]:
    return [a.message for a in actions if isinstance(a, Log)]


def ends(actions: list[Action]) -> list[str]:
    return [a.reason for a in actions if isinstance(a, EndCall)]
