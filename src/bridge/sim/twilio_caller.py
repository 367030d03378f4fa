"""A caller that behaves like Twilio Media Streams on a bidirectional <Connect><Stream>.

It sends `connected`, `start`, then one 20 ms `media` frame in real time (scaled) from the
scenario's caller audio, and plays what it is sent the way Twilio does: outbound media is
buffered and consumed at 8 bytes per ms, a `mark` is echoed when playback reaches it, and
`clear` empties the buffer and returns the pending marks at once. It records what the
caller actually heard, and when.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import secrets
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import fastgate
from bridge.sim.clock import DelayLine, ScaledClock
from bridge.sim.scenario import Scenario
from fastgate import FRAME_BYTES, FRAME_MS

log = logging.getLogger("fastgate.sim.caller")

SILENCE = b"\xff" * FRAME_BYTES
AI_ONSET_GAP_MS = 300  # playback idle this long, then audio again: the AI started a new reply


@dataclass
class CallerRecord:
    stream_sid: str
    call_sid: str
    sent: list[bytes] = field(default_factory=list)  # frame k covers [20k, 20k+20) ms of the call
    heard: list[tuple[float, bytes]] = field(default_factory=list)  # (ms, AI audio played in that slot)
    received_media: list[tuple[float, int]] = field(default_factory=list)  # (ms, bytes) as they arrived
    marks_received: list[tuple[float, str]] = field(default_factory=list)
    marks_echoed: list[tuple[float, str, bool]] = field(default_factory=list)  # (ms, name, by clear)
    clears: list[tuple[float, int]] = field(default_factory=list)  # (ms, bytes dropped)
    ai_onsets: list[float] = field(default_factory=list)
    utterances: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, transcript)
    protocol_errors: list[str] = field(default_factory=list)
    ended_by: str = ""
    started_at: float = 0.0  # clock ms when frame 0 was sent; frame k went at started_at + 20k
    duration_ms: float = 0.0

    def heard_ms_between(self, start: float, end: float) -> float:
        return sum(len(chunk) / 8 for t, chunk in self.heard if start <= t < end)

    def to_json(self) -> dict[str, Any]:
        return {
            "stream_sid": self.stream_sid,
            "call_sid": self.call_sid,
            "ended_by": self.ended_by,
            "duration_ms": round(self.duration_ms),
            "frames_sent": len(self.sent),
            "heard": [{"ms": round(t), "audio_ms": len(c) / 8} for t, c in self.heard],
            "ai_onsets_ms": [round(t) for t in self.ai_onsets],
            "clears": [{"ms": round(t), "dropped_ms": n / 8} for t, n in self.clears],
            "marks_echoed": [{"ms": round(t), "name": n, "by_clear": c} for t, n, c in self.marks_echoed],
            "utterances": [
                {"start_ms": round(s), "end_ms": round(e), "transcript": tr} for s, e, tr in self.utterances
            ],
            "protocol_errors": self.protocol_errors,
        }


class _Playback:
    """Twilio's side of outbound audio: a byte buffer, marks at byte positions, clear."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.played = 0  # bytes consumed since the call began
        self.queued = 0  # bytes ever buffered
        self.marks: deque[tuple[int, str]] = deque()

    def feed(self, audio: bytes) -> None:
        self.buffer += audio
        self.queued += len(audio)

    def mark(self, name: str) -> None:
        self.marks.append((self.queued, name))

    def play_slot(self) -> bytes:
        chunk = bytes(self.buffer[:FRAME_BYTES])
        del self.buffer[:FRAME_BYTES]
        self.played += len(chunk)
        return chunk

    def due_marks(self) -> list[str]:
        due = []
        while self.marks and self.marks[0][0] <= self.played:
            due.append(self.marks.popleft()[1])
        return due

    def clear(self) -> tuple[int, list[str]]:
        dropped = len(self.buffer)
        self.buffer.clear()
        self.queued = self.played
        names = [name for _, name in self.marks]
        self.marks.clear()
        return dropped, names


def _mix(a: bytes, b: bytes, gain: float = 1.0) -> bytes:
    n = len(a)
    pa = struct.unpack(f"<{n}h", fastgate.ulaw_decode(a))
    pb = struct.unpack(f"<{n}h", fastgate.ulaw_decode(b[:n].ljust(n, b"\xff")))
    return fastgate.ulaw_encode(
        struct.pack(
            f"<{n}h", *(max(-32768, min(32767, x + round(y * gain))) for x, y in zip(pa, pb, strict=True))
        )
    )


class TwilioCaller:
    """Places one simulated call to a bridge's /media-stream websocket."""

    def __init__(
        self,
        url: str,
        scenario: Scenario,
        *,
        time_scale: float = 1.0,
        headers: dict[str, str] | None = None,
        custom_parameters: dict[str, str] | None = None,
        clock: ScaledClock | None = None,
    ) -> None:
        self.url, self.scenario, self.headers = url, scenario, headers or {}
        self.clock = clock or ScaledClock(time_scale)
        self._own_clock = clock is None
        self.settings = scenario.caller
        self.custom = {"caller": self.settings.caller_id, **(custom_parameters or {})}
        self.record = CallerRecord(
            stream_sid="MZ" + secrets.token_hex(16), call_sid="CA" + secrets.token_hex(16)
        )
        self.playback = _Playback()
        self._seq = 0
        self._ws: ClientConnection | None = None
        self._server_closed = asyncio.Event()
        self._last_ai_audio_ms = -1e9
        self._clear_requested = False  # set by the parser, honoured by the receiver (it may echo marks)
        self._heard_slots: dict[int, bytes] = {}  # slot k -> AI audio played then (for the echo)
        self._uplink = DelayLine(self.clock, self.settings.network_ms, self._transmit)
        self._downlink = DelayLine(self.clock, self.settings.network_ms, self._apply)

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def _send(self, message: dict[str, Any]) -> None:
        await self._uplink.put(json.dumps(message))

    async def _transmit(self, text: str) -> None:
        assert self._ws is not None
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(text)

    async def run(self) -> CallerRecord:
        async with connect(
            self.url, additional_headers=self.headers, max_size=1 << 20, compression=None
        ) as ws:
            self._ws = ws
            if self._own_clock:
                self.clock = ScaledClock(self.clock.time_scale)
            sid = self.record.stream_sid
            await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await self._send(
                {
                    "event": "start",
                    "sequenceNumber": self._next_seq(),
                    "streamSid": sid,
                    "start": {
                        "accountSid": "AC" + "0" * 32,
                        "streamSid": sid,
                        "callSid": self.record.call_sid,
                        "tracks": ["inbound"],
                        "customParameters": self.custom,
                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    },
                }
            )
            receiver = asyncio.create_task(self._receive())
            try:
                await self._stream()
                if not self._server_closed.is_set():
                    await self._send(
                        {
                            "event": "stop",
                            "sequenceNumber": self._next_seq(),
                            "streamSid": sid,
                            "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.record.call_sid},
                        }
                    )
                    self.record.ended_by = self.record.ended_by or "caller"
            except ConnectionClosed:
                self.record.ended_by = "server"
            finally:
                receiver.cancel()
                await asyncio.gather(receiver, return_exceptions=True)
                await self._uplink.close()
                await self._downlink.close()
        self.record.duration_ms = self.clock.now_ms()
        return self.record

    async def _stream(self) -> None:
        s = self.settings
        pending = list(self.scenario.utterances)
        speaking: tuple[bytes, int, float, str] | None = None  # audio, position, start, transcript
        dtmf = list(s.dtmf)
        noise = s.noise
        base = self.record.started_at = self.clock.now_ms()  # frame k is sent at base + 20k
        last_line_end = base
        k = 0
        while not self._server_closed.is_set():
            t = k * FRAME_MS
            now = base + t
            if t >= s.max_ms:
                self.record.ended_by = "max_ms"
                return
            await self.clock.sleep_until_ms(now)
            await self._play_slot(now)
            if speaking is None and pending:
                u = pending[0]
                if u.at_ms is not None:
                    start = max(base + u.at_ms, last_line_end)
                elif len(self.record.ai_onsets) >= (u.after_ai_starts or 1):
                    start = self.record.ai_onsets[(u.after_ai_starts or 1) - 1] + u.offset_ms
                else:
                    start = None
                if start is not None and now >= start:
                    pending.pop(0)
                    speaking = (u.audio, 0, now, u.transcript)
            frame = (
                noise[(k * FRAME_BYTES) % len(noise) :][:FRAME_BYTES].ljust(FRAME_BYTES, b"\xff")
                if noise
                else SILENCE
            )
            echo_gain = s.echo_gain_db
            if echo_gain is not None:
                echo = self._heard_slots.pop(k - s.echo_delay_ms // FRAME_MS, None)
                if echo:
                    frame = _mix(frame, echo, 10 ** (echo_gain / 20))
            if speaking is not None:
                audio, pos, started, transcript = speaking
                voice = audio[pos : pos + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff")
                frame = _mix(voice, frame) if noise else voice
                pos += FRAME_BYTES
                speaking = (audio, pos, started, transcript)
                if pos >= len(audio):
                    self.record.utterances.append((started, now + FRAME_MS, transcript))
                    last_line_end = now + FRAME_MS
                    speaking = None
            self.record.sent.append(frame)
            await self._send(
                {
                    "event": "media",
                    "sequenceNumber": self._next_seq(),
                    "streamSid": self.record.stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(k + 1),
                        "timestamp": str(t),
                        "payload": base64.b64encode(frame).decode(),
                    },
                }
            )
            while dtmf and dtmf[0][0] <= t:
                await self._send(
                    {
                        "event": "dtmf",
                        "streamSid": self.record.stream_sid,
                        "sequenceNumber": self._next_seq(),
                        "dtmf": {"track": "inbound_track", "digit": dtmf.pop(0)[1]},
                    }
                )
            done = not pending and speaking is None
            quiet_since = max(last_line_end, self._last_ai_audio_ms)
            if done and not self.playback.buffer and now - quiet_since >= s.hangup_after_ms:
                return
            k += 1

    async def _play_slot(self, t: float) -> None:
        chunk = self.playback.play_slot()
        if chunk and self.settings.echo_gain_db is not None:
            self._heard_slots[round((t - self.record.started_at) / FRAME_MS)] = chunk
        if chunk:
            if t - self._last_ai_audio_ms > AI_ONSET_GAP_MS:
                self.record.ai_onsets.append(t)
            self._last_ai_audio_ms = t + len(chunk) / 8
            self.record.heard.append((t, chunk))
        for name in self.playback.due_marks():
            await self._echo_mark(name, by_clear=False)

    async def _echo_mark(self, name: str, *, by_clear: bool) -> None:
        self.record.marks_echoed.append((self.clock.now_ms(), name, by_clear))
        await self._send(
            {
                "event": "mark",
                "sequenceNumber": self._next_seq(),
                "streamSid": self.record.stream_sid,
                "mark": {"name": name},
            }
        )

    async def _receive(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                await self._downlink.put(raw)
        except ConnectionClosed:
            pass
        finally:
            if self.settings.network_ms > 0:
                await self.clock.sleep_ms(self.settings.network_ms)  # what was still on the wire
            self._server_closed.set()
            self.record.ended_by = self.record.ended_by or "server"

    async def _apply(self, raw: str | bytes) -> None:
        """One message from the bridge, as it reaches Twilio (after the downlink's latency)."""
        self._on_message(raw)
        if self._clear_requested:
            self._clear_requested = False
            dropped, names = self.playback.clear()
            self.record.clears.append((self.clock.now_ms(), dropped))
            if self.settings.echo_marks_on_clear:
                for name in names:
                    await self._echo_mark(name, by_clear=True)
        if not self.playback.buffer:
            for name in self.playback.due_marks():
                await self._echo_mark(name, by_clear=False)

    def _on_message(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
            event = msg["event"]
            if msg.get("streamSid") != self.record.stream_sid:
                raise ValueError(f"streamSid {msg.get('streamSid')!r} is not this call's")
            if event == "media":
                audio = base64.b64decode(msg["media"]["payload"], validate=True)
                self.record.received_media.append((self.clock.now_ms(), len(audio)))
                self.playback.feed(audio)
            elif event == "mark":
                name = msg["mark"]["name"]
                self.record.marks_received.append((self.clock.now_ms(), name))
                self.playback.mark(name)
            elif event == "clear":
                self._clear_requested = True
            else:
                raise ValueError(f"unknown event {event!r}")
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            self.record.protocol_errors.append(f"{exc}: {str(raw)[:120]}")
            log.warning("caller got a bad message: %s", exc)
