"""A lean Realtime peer for load tests: the GA protocol's path through a call, a few µs per event.

It answers `session.update`, streams a long scripted reply per `response.create` (one 100 ms delta
every 100 ms, from one ticker for every connection), cancels on `response.cancel`, confirms
truncates, and runs a crude server VAD on what it receives (a payload that is not μ-law silence is
voice): `speech_started` after `vad_delay_ms` of voice, `speech_stopped` + `committed` + a transcript
after `silence_ms` of silence. It honours `create_response` and `interrupt_response` as the real
server does, so a bridge that leaves the turn-taking to the server (the tutorial relay) works too.

The first delta of each reply starts with a tag (`TAG` + connection + reply number), so the caller
can tell which connection it is on and when that reply left the peer. The full simulator
(`bridge.sim.realtime_server`) is the protocol reference; this one trades fidelity for speed.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import struct
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

from bridge.server.sockets import answered_close
from fastgate import FRAME_BYTES

TAG = b"\x7f\x7e\x7d\x7c"  # then >HH: connection, reply number
SILENCE = base64.b64encode(b"\xff" * FRAME_BYTES).decode("ascii")


@functools.lru_cache(maxsize=16)
def silence(frames: int) -> str:
    return base64.b64encode(b"\xff" * FRAME_BYTES * frames).decode("ascii")


DELTA_MS = 100
DELTA_SLOTS = 5
TEXT = WSMsgType.TEXT
TRANSCRIPT = "לא, קריית שמונה"


def tagged(audio: bytes, connection: int, reply: int) -> bytes:
    mark = TAG + struct.pack(">HH", connection, reply)
    return mark + audio[len(mark) :]


def read_tag(audio: bytes) -> tuple[int, int] | None:
    if len(audio) < 8 or not audio.startswith(TAG):
        return None
    connection, reply = struct.unpack(">HH", audio[4:8])
    return connection, reply


@dataclass
class PeerConnection:
    """One Realtime session as the peer saw it; times are time.perf_counter() seconds."""

    index: int
    appends: array = field(default_factory=lambda: array("d"))  # each 20 ms frame's arrival in an append
    speech_started: list[float] = field(default_factory=list)
    reply_sent: dict[int, float] = field(default_factory=dict)  # reply number -> first delta sent
    replies: int = 0
    append_messages: int = 0
    create_response: bool = True
    interrupt_response: bool = True
    # the active reply
    response_id: str | None = None
    item_id: str | None = None
    position: int = 0  # bytes of AI audio sent in this reply
    # the crude VAD
    voiced: int = 0
    quiet: int = 0
    speaking: bool = False


class LeanRealtime:
    def __init__(self, ai_audio: bytes, *, vad_delay_ms: int = 200, silence_ms: int = 500) -> None:
        self.ai_audio = ai_audio
        self.vad_frames = max(1, vad_delay_ms // 20)
        self.silence_frames = max(1, silence_ms // 20)
        self.connections: list[PeerConnection] = []
        self._sockets: dict[int, WSTransport] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        self._server = await ws_create_server(
            lambda _request: _PeerSocket(self), "127.0.0.1", 0, max_frame_size=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._stream_every_connection())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._server is not None:
            self._server.close()
            for ws in list(self._sockets.values()):
                ws.disconnect(graceful=False)
            await self._server.wait_closed()

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):08d}"

    def connected(self, ws: WSTransport) -> PeerConnection:
        peer = PeerConnection(len(self.connections))
        self.connections.append(peer)
        self._sockets[peer.index] = ws
        session = {
            "type": "realtime",
            "object": "realtime.session",
            "id": self._id("sess"),
            "model": "gpt-realtime",
        }
        self._send(ws, {"type": "session.created", "session": session})
        return peer

    def disconnected(self, peer: PeerConnection) -> None:
        self._sockets.pop(peer.index, None)

    def received(self, ws: WSTransport, peer: PeerConnection, raw: bytes) -> None:
        now = time.perf_counter()
        event = orjson.loads(raw)
        kind = event.get("type")
        if kind == "input_audio_buffer.append":
            self._append(ws, peer, event.get("audio") or "", now)
        elif kind == "session.update":
            self._update(ws, peer, event.get("session") or {})
        elif kind == "response.create":
            self._respond(ws, peer)
        elif kind == "response.cancel":
            self._finish(ws, peer, "cancelled")
        elif kind == "conversation.item.truncate":
            self._send(
                ws,
                {
                    "type": "conversation.item.truncated",
                    "item_id": event.get("item_id"),
                    "content_index": 0,
                    "audio_end_ms": event.get("audio_end_ms", 0),
                },
            )

    def _send(self, ws: WSTransport, event: dict[str, Any]) -> None:
        if not ws.is_disconnected:
            ws.send(TEXT, orjson.dumps({"event_id": self._id("event"), **event}))

    def _update(self, ws: WSTransport, peer: PeerConnection, session: dict[str, Any]) -> None:
        turn = ((session.get("audio") or {}).get("input") or {}).get("turn_detection") or {}
        peer.create_response = bool(turn.get("create_response", True))
        peer.interrupt_response = bool(turn.get("interrupt_response", True))
        self._send(ws, {"type": "session.updated", "session": {"type": "realtime", **session}})

    def _respond(self, ws: WSTransport, peer: PeerConnection) -> None:
        if peer.response_id is not None:
            self._send(
                ws,
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "code": "conversation_already_has_active_response",
                        "message": "Conversation already has an active response in progress.",
                    },
                },
            )
            return
        peer.replies += 1
        peer.response_id, peer.item_id, peer.position = self._id("resp"), self._id("item"), 0
        response = {
            "id": peer.response_id,
            "object": "realtime.response",
            "status": "in_progress",
            "output": [],
        }
        self._send(ws, {"type": "response.created", "response": response})

    def _finish(self, ws: WSTransport, peer: PeerConnection, status: str) -> None:
        if peer.response_id is None:
            self._send(
                ws,
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "code": "response_cancel_not_active",
                        "message": "Cancellation failed: no active response found.",
                    },
                },
            )
            return
        response = {"id": peer.response_id, "object": "realtime.response", "status": status, "output": []}
        peer.response_id = peer.item_id = None
        self._send(ws, {"type": "response.done", "response": response})

    def _append(self, ws: WSTransport, peer: PeerConnection, audio: str, now: float) -> None:
        """One append: one 20 ms frame, or several (a bridge may batch silence)."""
        peer.append_messages += 1
        if audio == SILENCE or len(audio) <= len(SILENCE):
            peer.appends.append(now)
            self._hear(ws, peer, audio != SILENCE, len(peer.appends))
            return
        frames = max(1, len(base64.b64decode(audio)) // FRAME_BYTES)
        voice = audio != silence(frames)
        for _ in range(frames):
            peer.appends.append(now)
            self._hear(ws, peer, voice, len(peer.appends))

    def _hear(self, ws: WSTransport, peer: PeerConnection, voice: bool, n: int) -> None:
        if voice:
            peer.voiced, peer.quiet = peer.voiced + 1, 0
            if not peer.speaking and peer.voiced >= self.vad_frames:
                peer.speaking = True
                peer.speech_started.append(time.perf_counter())
                self._send(
                    ws,
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": (n - peer.voiced) * 20,
                        "item_id": self._id("item"),
                    },
                )
                if peer.interrupt_response and peer.response_id is not None:
                    self._finish(ws, peer, "cancelled")
            return
        peer.quiet += 1
        if peer.quiet == 1 and not peer.speaking:
            peer.voiced = 0
        if peer.speaking and peer.quiet >= self.silence_frames:
            peer.speaking, peer.voiced = False, 0
            item = self._id("item")
            self._send(
                ws, {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": n * 20, "item_id": item}
            )
            self._send(
                ws, {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": item}
            )
            self._send(
                ws,
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item,
                    "content_index": 0,
                    "transcript": TRANSCRIPT,
                },
            )
            if peer.create_response:
                self._respond(ws, peer)

    async def _stream_every_connection(self) -> None:
        """One delta per active reply every 100 ms, from one timer for every connection that wakes
        `DELTA_SLOTS` times per delta, each time for its share of the connections: the sessions' replies
        are not in step, so their deltas reach the bridge spread over the 100 ms, not in one burst."""
        step = DELTA_MS * 8
        due = time.perf_counter()
        slot = 0
        while True:
            due += DELTA_MS / 1000 / DELTA_SLOTS
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            slot = (slot + 1) % DELTA_SLOTS
            for index, ws in list(self._sockets.items()):
                if index % DELTA_SLOTS != slot:
                    continue
                peer = self.connections[index]
                if peer.response_id is None:
                    continue
                start = peer.position % max(step, len(self.ai_audio) - step)
                audio = self.ai_audio[start : start + step]
                if peer.position == 0:
                    audio = tagged(audio, index, peer.replies)
                    peer.reply_sent[peer.replies] = time.perf_counter()
                peer.position += step
                delta = {
                    "type": "response.output_audio.delta",
                    "response_id": peer.response_id,
                    "item_id": peer.item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": base64.b64encode(audio).decode("ascii"),
                }
                self._send(ws, delta)


class _PeerSocket(WSListener):  # type: ignore[misc]
    def __init__(self, peer: LeanRealtime) -> None:
        self.peer = peer
        self.connection: PeerConnection | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.connection = self.peer.connected(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is TEXT and self.connection is not None:
            self.peer.received(transport, self.connection, frame.get_payload_as_bytes())
        else:
            answered_close(transport, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.connection is not None:
            self.peer.disconnected(self.connection)
