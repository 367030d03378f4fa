"""AI audio on its way to the caller: our outbound queue, Twilio's buffer, and what was heard.

Deltas are re-cut into chunks of `chunk_ms` (Twilio plays tiny media messages choppily), each
followed by a uniquely named mark. At most `lead_ms` of audio is outstanding at Twilio (sent,
mark not yet echoed); the rest waits in our queue, so a barge-in has little to clear. Echoed
marks tell how much of each assistant item the caller heard; between two marks, the position
is interpolated from the clock, never beyond the chunk being played.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import fastgate

BYTES_PER_MS = fastgate.FRAME_BYTES // fastgate.FRAME_MS


@dataclass(slots=True)
class Chunk:
    item_id: str
    audio: bytes
    start_ms: int  # position of this chunk within its item's audio
    mark: str = ""
    sent_at: float = 0.0
    leads_a_run: bool = False  # sent while Twilio had nothing to play: it started on arrival

    @property
    def duration_ms(self) -> float:
        return len(self.audio) / BYTES_PER_MS


class Playback:
    def __init__(self, chunk_ms: int = 100, lead_ms: int = 300) -> None:
        self.chunk_bytes = chunk_ms * BYTES_PER_MS
        self.lead_ms = lead_ms
        self.queue: deque[Chunk] = deque()  # ours, not yet sent
        self.outstanding: deque[Chunk] = deque()  # sent to Twilio, mark not echoed yet
        self.received_bytes: dict[str, int] = {}  # audio received per item
        self._framer = fastgate.Framer(self.chunk_bytes)
        self._framing_item: str | None = None
        self._framed_bytes = 0
        self._marks = 0
        self._last_ack_at: float | None = None
        self._outstanding_bytes = 0
        self.paused = False  # a possible interruption: nothing is sent until resume() or flush()
        self.rtt_ms = 0.0  # Twilio's round trip, from the marks of chunks that started on arrival
        self._rtt_samples = 0

    @property
    def is_playing(self) -> bool:
        return bool(self.queue or self.outstanding or self._framer.pending)

    @property
    def audible(self) -> bool:
        """The caller hears AI audio now: some was sent to Twilio and its mark has not come back."""
        return bool(self.outstanding)

    @property
    def received_ms(self) -> dict[str, int]:
        """Audio received per item, in whole ms (counted in bytes: deltas come in any size)."""
        return {item: n // BYTES_PER_MS for item, n in self.received_bytes.items()}

    @property
    def outstanding_ms(self) -> float:
        return self._outstanding_bytes / BYTES_PER_MS

    def add_audio(self, item_id: str, audio: bytes) -> None:
        if item_id != self._framing_item:
            self.end_item()
            self._framing_item = item_id
            self._framed_bytes = 0
        self.received_bytes[item_id] = self.received_bytes.get(item_id, 0) + len(audio)
        for frame in self._framer.push(audio):
            self._enqueue(item_id, frame)

    def end_item(self) -> None:
        """The current item's audio is complete: its last, shorter chunk goes out too."""
        if self._framing_item is not None and self._framer.pending:
            size = self._framer.pending
            tail = self._framer.flush()
            assert tail is not None
            self._enqueue(self._framing_item, tail[:size])  # only what the model produced, no padding
        self._framing_item = None

    def _enqueue(self, item_id: str, audio: bytes) -> None:
        self.queue.append(Chunk(item_id, audio, self._framed_bytes // BYTES_PER_MS))
        self._framed_bytes += len(audio)

    def release(self, now_ms: float) -> list[Chunk]:
        """Chunks to send now, each already given its mark name."""
        out: list[Chunk] = []
        while not self.paused and self.queue and self.outstanding_ms < self.lead_ms:
            chunk = self.queue.popleft()
            self._marks += 1
            chunk.mark = f"fg{self._marks}"
            chunk.sent_at = now_ms
            chunk.leads_a_run = not self.outstanding
            self.outstanding.append(chunk)
            self._outstanding_bytes += len(chunk.audio)
            out.append(chunk)
        return out

    def on_mark(self, name: str, now_ms: float) -> bool:
        """A mark came back: everything up to it was played. False for unknown (e.g. cleared) marks."""
        if not any(c.mark == name for c in self.outstanding):
            return False
        while self.outstanding:
            chunk = self.outstanding.popleft()
            self._outstanding_bytes -= len(chunk.audio)
            if chunk.mark == name:
                break
        if chunk.leads_a_run:  # sent, played from its arrival to its end, and the mark came back
            sample = max(0.0, now_ms - chunk.sent_at - chunk.duration_ms)
            self.rtt_ms = sample if self._rtt_samples == 0 else min(self.rtt_ms, sample)
            self._rtt_samples += 1
        self._last_ack_at = now_ms
        return True

    def playing_position(self, now_ms: float) -> tuple[str, int] | None:
        """(item, ms heard) once a `clear` sent now reaches Twilio, or None when nothing plays.

        The chunk now playing began when the previous mark left Twilio (its echo took half the round
        trip to come back), or on its own arrival (half the round trip after it was sent); it plays on
        until the clear arrives, half the round trip from now. So: `now - last mark + rtt`, or
        `now - sent`, never past the chunk's end.
        """
        if self.outstanding:
            chunk = self.outstanding[0]
            acked = self._last_ack_at
            started = chunk.sent_at if acked is None else max(chunk.sent_at, acked - self.rtt_ms)
            into = min(max(now_ms - started, 0.0), chunk.duration_ms)
            return chunk.item_id, int(chunk.start_ms + into)
        if self.queue:
            chunk = self.queue[0]
            return chunk.item_id, chunk.start_ms
        return None

    def heard_rms(self, now_ms: float) -> int:
        """The RMS of the 20 ms of AI audio the caller hears now (0 when none): the echo reference."""
        if not self.outstanding:
            return 0
        chunk = self.outstanding[0]
        position = self.playing_position(now_ms)
        into = ((position[1] if position else 0) - chunk.start_ms) * BYTES_PER_MS
        return (
            fastgate.rms_ulaw(chunk.audio[into : into + fastgate.FRAME_BYTES])
            if into < len(chunk.audio)
            else 0
        )

    def pause(self, now_ms: float) -> tuple[str, int] | None:
        """Stop where the caller is (Twilio's buffer is being cleared): what they did not hear goes back
        to the head of our queue, to be sent again on resume(). Returns (item, ms heard)."""
        position = self.playing_position(now_ms)
        rewound = []
        for n, chunk in enumerate(self.outstanding):
            into = 0
            if n == 0 and position is not None and position[0] == chunk.item_id:
                into = min(len(chunk.audio), max(0, (position[1] - chunk.start_ms) * BYTES_PER_MS))
            if into < len(chunk.audio):
                rewound.append(
                    Chunk(chunk.item_id, chunk.audio[into:], chunk.start_ms + into // BYTES_PER_MS)
                )
        self.queue.extendleft(reversed(rewound))
        self.outstanding.clear()
        self._outstanding_bytes = 0
        self._last_ack_at = None
        self.paused = True
        return position

    def resume(self) -> None:
        self.paused = False

    def flush(self) -> int:
        """Barge-in: drop our queue and forget what Twilio held. Returns 20 ms frames dropped locally."""
        local = sum(len(c.audio) for c in self.queue) + self._framer.pending
        self.queue.clear()
        self.outstanding.clear()
        self._outstanding_bytes = 0
        self._framer.reset()
        self._framing_item = None
        self._last_ack_at = None
        self.paused = False
        return -(-local // fastgate.FRAME_BYTES)
