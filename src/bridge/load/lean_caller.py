"""A lean Twilio caller for load tests: Media Streams as Twilio speaks it, at a few µs per frame.

One `Metronome` sends every caller's 20 ms frame from a single timer, spread over the 20 ms. Each
caller speaks a recorded utterance once per cycle (over the AI, which talks all the time), plays what it
receives in real time, echoes marks when their audio has played (at once on `clear`, as Twilio does),
and notes the times the load test needs. Times are time.perf_counter() seconds.
"""

from __future__ import annotations

import asyncio
import base64
import time
from array import array
from collections import deque

import orjson
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bridge.load.lean_realtime import SILENCE, read_tag
from bridge.server.sockets import answered_close
from fastgate import FRAME_BYTES, FRAME_MS

# After the words, the silence that ends the turn: the server's VAD needs it at once (a bridge may batch
# the silence after it). The bridge's own quiet_batch_after_ms is the same 1.5 s.
TURN_END_MS = 1500
TEXT = WSMsgType.TEXT


def speech_frames(audio: bytes) -> list[str]:
    whole = len(audio) // FRAME_BYTES * FRAME_BYTES
    return [
        base64.b64encode(audio[i : i + FRAME_BYTES]).decode("ascii") for i in range(0, whole, FRAME_BYTES)
    ]


class LeanCaller:
    def __init__(
        self,
        index: int,
        url: str,
        speech: list[str],
        *,
        cycle_ms: int,
        speak_at_ms: int,
        phase_ms: int,
        turn_end_ms: int = TURN_END_MS,
    ):
        self.index, self.url, self.speech = index, url, speech
        self.cycle = cycle_ms // FRAME_MS
        self.speak_at = speak_at_ms // FRAME_MS
        self.phase = phase_ms // FRAME_MS
        self.prompt_frames = len(speech) + turn_end_ms // FRAME_MS
        self.stream_sid = f"MZload{index:08d}"
        self.sent = array("d")  # each media frame's send time
        self.prompt = array("b")  # ... 1 if it is speech or the turn's end, which the model must hear at once
        self.voice_onsets: list[tuple[float, bool]] = []  # (time, the AI was audible)
        self.clears: list[float] = []
        self.first_media: dict[int, float] = {}  # reply number -> its first audio here
        self.connection: int | None = None  # the peer's connection index, from the first tagged reply
        self.closed = False
        self._ws: WSTransport | None = None
        self._marks: deque[tuple[float, str]] = deque()
        self._play_until = 0.0
        self._frame = 0

    async def open(self) -> None:
        self._ws, _ = await ws_connect(
            lambda: _Reader(self), self.url, max_frame_size=1 << 20, websocket_handshake_timeout=30
        )
        self._send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        start = {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": self.stream_sid,
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": self.stream_sid,
                "callSid": f"CAload{self.index:08d}",
                "tracks": ["inbound"],
                "customParameters": {"caller": "+972500000000"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
        self._send(orjson.dumps(start).decode())

    async def close(self) -> None:
        ws = self._ws
        if ws is not None and not self.closed:
            self.closed = True
            ws.send_close(WSCloseCode.OK)
            ws.disconnect()
        if ws is not None:
            await ws.wait_disconnected()

    def _send(self, text: str) -> None:
        ws = self._ws
        if ws is None or ws.is_disconnected:
            self.closed = True
            return
        ws.send(TEXT, text)

    def tick(self, now: float) -> None:
        """This caller's next frame, and the marks whose audio has played."""
        if self._ws is None or self.closed:
            return
        position = (self._frame + self.phase) % self.cycle - self.speak_at
        speaking = 0 <= position < len(self.speech)
        if position == 0:
            self.voice_onsets.append((now, self._play_until > now))
        payload = self.speech[position] if speaking else SILENCE
        self._frame += 1
        self._send(
            '{"event":"media","streamSid":"%s","media":{"track":"inbound","chunk":"%d",'  # noqa: UP031
            '"timestamp":"%d","payload":"%s"}}'
            % (self.stream_sid, self._frame, self._frame * FRAME_MS, payload)
        )
        self.sent.append(now)
        self.prompt.append(0 <= position < self.prompt_frames)
        while self._marks and self._marks[0][0] <= now:
            self._send(self._mark(self._marks.popleft()[1]))

    def _mark(self, name: str) -> str:
        return '{"event":"mark","streamSid":"%s","mark":{"name":"%s"}}' % (self.stream_sid, name)  # noqa: UP031

    def received(self, raw: bytes) -> None:
        now = time.perf_counter()
        msg = orjson.loads(raw)
        event = msg.get("event")
        if event == "media":
            payload = msg["media"]["payload"]
            tag = read_tag(base64.b64decode(payload[:12]))
            if tag is not None:
                self.connection = tag[0]
                self.first_media.setdefault(tag[1], now)
            self._play_until = max(now, self._play_until) + len(payload) * 3 / 4 / 8000
        elif event == "mark":
            self._marks.append((self._play_until, msg["mark"]["name"]))
        elif event == "clear":
            self.clears.append(now)
            self._play_until = now
            while self._marks:  # Twilio returns the pending marks at once
                self._send(self._mark(self._marks.popleft()[1]))


class _Reader(WSListener):  # type: ignore[misc]
    def __init__(self, caller: LeanCaller) -> None:
        self.caller = caller

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is TEXT:
            self.caller.received(frame.get_payload_as_bytes())
        else:
            answered_close(transport, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.caller.closed = True


class Metronome:
    """Every caller's frame every 20 ms from one timer that wakes `slots` times per frame, each time for
    its share of the callers: like real streams, whose 20 ms cadences are not in step, the frames reach
    the server spread over the 20 ms rather than all in one burst. `lag` is how late the worst tick ran."""

    def __init__(self, callers: list[LeanCaller], slots: int = 4) -> None:
        self.callers = callers
        self.slots = slots
        self.lag = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        due = time.perf_counter()
        slot = 0
        while True:
            due += FRAME_MS / 1000 / self.slots
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            self.lag = max(self.lag, now - due)
            for caller in self.callers[slot :: self.slots]:
                caller.tick(now)
            slot = (slot + 1) % self.slots
