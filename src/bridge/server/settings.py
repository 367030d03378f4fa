"""Server settings: command-line flags over environment variables over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bridge.core.config import CallConfig

OPENAI_WS_BASE = "wss://api.openai.com/v1"


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 8080
    realtime_url: str = OPENAI_WS_BASE  # websocket base URL; /realtime?model=M is appended
    api_key: str | None = None
    public_url: str | None = None  # https://host as Twilio reaches us; default: from the request
    twilio_auth_token: str | None = None
    twilio_account_sid: str | None = None
    drain_seconds: float = 30.0
    max_message_bytes: int = 1 << 20
    realtime_max_message_bytes: int = 16 << 20
    realtime_connect_timeout: float = 10.0
    tick_ms: float = 100.0  # timers only: AI audio is released on marks and deltas
    db_path: str | None = None  # leads (SQLite); None: lead intake keeps no record
    profile_path: str | None = None  # business profile TOML; None: the shipped example
    intake: bool = True
    call: CallConfig = field(default_factory=CallConfig)

    @property
    def realtime_endpoint(self) -> str:
        return f"{self.realtime_url.rstrip('/')}/realtime?model={self.call.model}"
