"""One possible interruption, from the moment the AI paused until it is decided: real or not.

Real: the caller kept talking for `confirm_ms`, or the transcript holds words that are not a
backchannel, or any "לא". Not real: the sound ended within that and its transcript came back empty or
a backchannel (cough, knock, "אהה", "כן כן"), or the server heard nothing at all, or nothing was
decided within `max_pause_ms`. The decision is a pure function of what was seen and the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from bridge.core.config import LocalDetection

_WORD = re.compile(r"[\w\u0590-\u05ff']+")
_NIQQUD = re.compile(r"[\u0591-\u05c7]")
NO_WORDS = frozenset({"לא", "לאא", "לאאא", "רגע", "עצרי", "עצור", "תפסיקי", "סטופ", "stop", "no", "wait"})


class Verdict(Enum):
    REAL = "real"
    FALSE = "false"


@dataclass
class Interruption:
    started_ms: float  # the local onset (when the AI paused)
    response_id: str | None  # the response whose audio was paused
    last_voice_ms: float
    server_item: str | None = None  # the user item of the server's turn for this sound, once reported
    server_stopped: bool = False
    transcript: str | None = None
    voiced_frames: int = 0

    def verdict(self, now_ms: float, config: LocalDetection) -> tuple[Verdict, str] | None:
        if self.transcript is not None:
            return classify(self.transcript, config.backchannels)
        if self.last_voice_ms - self.started_ms >= config.confirm_ms:
            return Verdict.REAL, f"the caller kept talking for {config.confirm_ms} ms"
        quiet = now_ms - self.last_voice_ms
        if quiet >= config.end_quiet_ms and self.server_item is None:
            return Verdict.FALSE, "a short sound the server did not hear as speech"
        if now_ms - self.started_ms >= config.max_pause_ms:
            return Verdict.FALSE, f"short, and no transcript within {config.max_pause_ms} ms"
        return None


def words(text: str) -> list[str]:
    return _WORD.findall(_NIQQUD.sub("", text).lower())


def classify(transcript: str, backchannels: tuple[str, ...]) -> tuple[Verdict, str]:
    said = words(transcript)
    if any(w in NO_WORDS for w in said):
        return Verdict.REAL, f"a 'no' in {transcript!r}"
    if not said:
        return Verdict.FALSE, "an empty transcript (not speech)"
    known = {w for phrase in backchannels for w in words(phrase)}
    if len(said) <= 3 and all(w in known for w in said):
        return Verdict.FALSE, f"a backchannel: {transcript!r}"
    return Verdict.REAL, f"words: {transcript!r}"
