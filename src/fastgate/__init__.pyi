from typing_extensions import Buffer

FRAME_MS: int
FRAME_BYTES: int
ULAW_SILENCE: int

def ulaw_decode(data: Buffer) -> bytes: ...
def ulaw_encode(pcm: Buffer) -> bytes: ...
def alaw_decode(data: Buffer) -> bytes: ...
def alaw_encode(pcm: Buffer) -> bytes: ...
def rms_ulaw(data: Buffer) -> int: ...

class Gate:
    barge_in_active: bool
    @property
    def is_open(self) -> bool: ...
    @property
    def last_rms(self) -> int: ...
    @property
    def noise_floor(self) -> float: ...
    @property
    def onset_pending(self) -> bool: ...
    @property
    def threshold(self) -> float: ...
    @property
    def close_threshold(self) -> float: ...
    @property
    def passed(self) -> dict[str, int]: ...
    @property
    def blocked(self) -> dict[str, int]: ...
    open_frames: int
    hangover_frames: int
    min_threshold: float
    open_factor: float
    close_ratio: float
    floor_rise: float
    floor_rise_open: float
    floor_fall: float
    def __init__(
        self,
        open_frames: int = 2,
        hangover_frames: int = 15,
        min_threshold: float = 200.0,
        open_factor: float = 3.0,
        close_ratio: float = 0.5,
        floor_rise: float = 0.02,
        floor_rise_open: float = 0.001,
        floor_fall: float = 0.5,
        initial_floor: float = 0.0,
    ) -> None: ...
    def process(self, frame: Buffer) -> bool: ...
    def process_rms(self, rms: int) -> bool: ...
    def reset(self) -> None: ...

class Framer:
    @property
    def frame_bytes(self) -> int: ...
    @property
    def pending(self) -> int: ...
    def __init__(self, frame_bytes: int = 160) -> None: ...
    def push(self, data: Buffer) -> list[bytes]: ...
    def flush(self, fill: int = 0xFF) -> bytes | None: ...
    def reset(self) -> None: ...

def process_twilio_media(
    message: str | bytes, gate: Gate, pass_onsets: bool = False
) -> tuple[bool, int, str] | None: ...

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "ULAW_SILENCE",
    "Framer",
    "Gate",
    "alaw_decode",
    "alaw_encode",
    "process_twilio_media",
    "rms_ulaw",
    "ulaw_decode",
    "ulaw_encode",
]
