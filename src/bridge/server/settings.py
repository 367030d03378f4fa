"""Server settings, from one source: each option is declared once, with its flag, environment
variable and help; its default is the dataclass default. Flags win over the environment, the
environment over the defaults. Secrets come from the environment only.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bridge.core.config import CallConfig

OPENAI_WS_BASE = "wss://api.openai.com/v1"


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
    workers: int = 1  # processes sharing the port (SO_REUSEPORT); metrics summed across them
    max_message_bytes: int = 1 << 20
    realtime_max_message_bytes: int = 16 << 20
    realtime_connect_timeout: float = 5.0
    realtime_ping_interval: float = 5.0  # keep-alive: a Realtime server silent for two of these is gone
    max_calls: int = 100  # calls one process takes; beyond it callers hear busy_message (metric: refused)
    busy_message: str = "שלום, כל הנציגים שלנו עסוקים כרגע. נשמח אם תתקשרו שוב בעוד כמה דקות. תודה."
    busy_voice: str = "Google.he-IL-Standard-A"  # a Twilio <Say> voice that speaks Hebrew
    busy_language: str = "he-IL"
    fallback_number: str | None = None  # when the model is gone, <Dial> this; None: the profile's, if any
    transfer_message: str = "מצטערים, יש לנו תקלה טכנית. מעבירים אותך לנציג, רגע אחד בבקשה."
    stream_token: bool | None = (
        None  # require the per-call token on `start`; None: when a Twilio token is set
    )
    stream_secret: str | None = None  # HMAC key of the tokens; default: the Twilio auth token
    unavailable_prompt: str | None = None  # mu-law 8 kHz played when Realtime fails; None: the shipped one
    twilio_send_timeout: float = 5.0  # a send to Twilio blocked this long (peer not reading) ends the call
    twilio_idle_timeout: float = 10.0  # Twilio sends media every 20 ms: this long without any, it is gone
    start_timeout: float = 5.0  # a media socket must send `start` this soon; Realtime opens only after it
    tick_ms: float = 100.0  # timers only: AI audio is released on marks and deltas
    intake: bool = True  # lead intake (tools, leads); False: a plain voice bridge
    db_path: str | None = "fastgate-leads.db"  # leads (SQLite); None: intake keeps no record
    profile_path: str | None = None  # business profile TOML; None: the shipped example
    instructions_file: str | None = None  # overrides the profile's instructions
    log_level: str = "INFO"
    log_phone_numbers: bool = False  # phone numbers in log output are masked (05••••••67) unless asked
    log_transcripts: bool = False  # what callers and the model say is logged as its length unless asked
    call: CallConfig = field(default_factory=CallConfig)

    @property
    def requires_stream_token(self) -> bool:
        return self.stream_token if self.stream_token is not None else bool(self.twilio_auth_token)

    @property
    def realtime_endpoint(self) -> str:
        return f"{self.realtime_url.rstrip('/')}/realtime?model={self.call.model}"


@dataclass(frozen=True)
class Option:
    flag: str
    target: str  # a Settings field, or "call.<CallConfig field>"
    envs: tuple[str, ...]
    help: str
    parse: Callable[[str], Any] = str


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"unknown log level {value!r} (DEBUG, INFO, WARNING, ERROR)")
    return level


SERVE_OPTIONS = (
    Option("--host", "host", ("FASTGATE_HOST",), "bind address"),
    Option("--port", "port", ("FASTGATE_PORT", "PORT"), "HTTP port", int),
    Option(
        "--realtime-url",
        "realtime_url",
        ("OPENAI_REALTIME_URL",),
        "Realtime websocket base URL; /realtime?model=M is appended",
    ),
    Option("--model", "call.model", ("OPENAI_REALTIME_MODEL",), "Realtime model"),
    Option("--voice", "call.voice", ("FASTGATE_VOICE",), "AI voice"),
    Option(
        "--instructions-file",
        "instructions_file",
        ("FASTGATE_INSTRUCTIONS_FILE",),
        "system instructions, UTF-8 text (instead of the profile's)",
    ),
    Option(
        "--public-url",
        "public_url",
        ("FASTGATE_PUBLIC_URL",),
        "https://host as Twilio reaches this server (signatures, stream URL)",
    ),
    Option("--silence-ms", "call.silence_duration_ms", ("FASTGATE_SILENCE_MS",), "server VAD silence", int),
    Option(
        "--server-interrupt",
        "call.server_interrupt",
        ("FASTGATE_SERVER_INTERRUPT",),
        "also let the server cancel on VAD (interrupt_response): yes/no",
        _flag,
    ),
    Option(
        "--local-detection",
        "call.local.enabled",
        ("FASTGATE_LOCAL_DETECTION",),
        "pause-then-decide barge-in on the bridge's own hearing (no: the server's VAD alone): yes/no",
        _flag,
    ),
    Option(
        "--voice-detector",
        "call.local.detector",
        ("FASTGATE_VOICE_DETECTOR",),
        "the local voice model: webrtc, ten-vad (needs libc++1) or energy",
    ),
    Option(
        "--interrupt-confirm-ms",
        "call.local.confirm_ms",
        ("FASTGATE_INTERRUPT_CONFIRM_MS",),
        "an interruption this long is real (cancel) without waiting for its transcript",
        int,
    ),
    Option(
        "--max-pause-ms",
        "call.local.max_pause_ms",
        ("FASTGATE_MAX_PAUSE_MS",),
        "longest pause before a short, undecided sound lets the AI go on",
        int,
    ),
    Option(
        "--backchannels",
        "call.local.backchannels",
        ("FASTGATE_BACKCHANNELS",),
        "comma-separated words that never interrupt on their own (anything with 'לא' always does)",
        lambda text: tuple(w.strip() for w in text.split(",") if w.strip()),
    ),
    Option(
        "--session-cap-ms",
        "call.session_cap_ms",
        ("FASTGATE_SESSION_CAP_MS",),
        "how long the Realtime API keeps a session (OpenAI: 60 minutes)",
        int,
    ),
    Option(
        "--wrap-up-ms",
        "call.wrap_up_ms",
        ("FASTGATE_WRAP_UP_MS",),
        "this long before the session cap, the model is asked to close the call; the bridge hangs up after",
        int,
    ),
    Option(
        "--quiet-batch-ms",
        "call.quiet_batch_ms",
        ("FASTGATE_QUIET_BATCH_MS",),
        "silence 1.5 s after the caller's last word goes to the model in appends this long (0: every frame)",
        int,
    ),
    Option("--profile", "profile_path", ("FASTGATE_PROFILE",), "business profile TOML"),
    Option("--db", "db_path", ("FASTGATE_DB",), "leads: a SQLite file, or a postgresql://user@host/db URL"),
    Option(
        "--drain-seconds",
        "drain_seconds",
        ("FASTGATE_DRAIN_SECONDS",),
        "on SIGTERM, how long calls in progress may go on",
        float,
    ),
    Option(
        "--workers",
        "workers",
        ("FASTGATE_WORKERS",),
        "server processes sharing the port (SO_REUSEPORT), each its own event loop; metrics are summed",
        int,
    ),
    Option(
        "--max-calls",
        "max_calls",
        ("FASTGATE_MAX_CALLS",),
        "calls this process takes at once; more callers hear a polite busy message",
        int,
    ),
    Option(
        "--stream-token",
        "stream_token",
        ("FASTGATE_STREAM_TOKEN",),
        "require the per-call token from /incoming-call on each stream's start: yes/no "
        "(default: yes when TWILIO_AUTH_TOKEN is set)",
        _flag,
    ),
    Option(
        "--realtime-ping-interval",
        "realtime_ping_interval",
        ("FASTGATE_REALTIME_PING_INTERVAL",),
        "seconds between keep-alive pings to Realtime; no pong within as long ends the call",
        float,
    ),
    Option(
        "--unavailable-prompt",
        "unavailable_prompt",
        ("FASTGATE_UNAVAILABLE_PROMPT",),
        "raw 8 kHz mu-law file the caller hears when the Realtime API fails or goes silent",
    ),
    Option(
        "--start-timeout",
        "start_timeout",
        ("FASTGATE_START_TIMEOUT",),
        "seconds a media socket has to send Twilio's `start`; no Realtime session opens before it",
        float,
    ),
    Option(
        "--twilio-send-timeout",
        "twilio_send_timeout",
        ("FASTGATE_TWILIO_SEND_TIMEOUT",),
        "seconds a send to Twilio may stay blocked (the peer stopped reading) before the call ends",
        float,
    ),
    Option(
        "--twilio-idle-timeout",
        "twilio_idle_timeout",
        ("FASTGATE_TWILIO_IDLE_TIMEOUT",),
        "seconds without any message from Twilio (it sends media every 20 ms) before the call ends",
        float,
    ),
    Option(
        "--fallback-number",
        "fallback_number",
        ("FASTGATE_FALLBACK_NUMBER",),
        "when the Realtime API fails or is lost, hand the caller to this number with <Dial> "
        "(default: the profile's [failure] fallback_number; none: a recorded apology, then the end)",
    ),
    Option("--log-level", "log_level", ("FASTGATE_LOG_LEVEL",), "DEBUG, INFO, WARNING or ERROR", _level),
    Option(
        "--log-phone-numbers",
        "log_phone_numbers",
        ("FASTGATE_LOG_PHONE_NUMBERS",),
        "show callers' phone numbers in the log output in full (no: masked): yes/no",
        _flag,
    ),
    Option(
        "--log-transcripts",
        "log_transcripts",
        ("FASTGATE_LOG_TRANSCRIPTS",),
        "log what the caller and the model say, tool arguments and notes (no: their length only): yes/no",
        _flag,
    ),
)


def _default(target: str) -> Any:
    obj: Any = Settings()
    for part in target.split("."):
        obj = getattr(obj, part)
    return ",".join(obj) if isinstance(obj, tuple) else obj


def add_options(parser: argparse.ArgumentParser, options: tuple[Option, ...] = SERVE_OPTIONS) -> None:
    """One flag per option; the help shows its environment variables and its default."""
    for opt in options:
        env = ", ".join(opt.envs)
        dest = opt.target.replace(".", "__")
        parser.add_argument(
            opt.flag,
            dest=dest,
            default=None,
            metavar=opt.flag.lstrip("-").upper().replace("-", "_"),
            help=f"{opt.help} [{env}] (default: {_default(opt.target)})",
        )
    parser.add_argument("--no-intake", action="store_true", help="a plain voice bridge: no tools, no leads")


def load_settings(
    args: argparse.Namespace | None = None,
    environ: Mapping[str, str] | None = None,
    options: tuple[Option, ...] = SERVE_OPTIONS,
) -> Settings:
    """Flags over environment over defaults; raises ValueError naming the flag or variable at fault."""
    environ = os.environ if environ is None else environ
    top: dict[str, Any] = {}
    call: dict[str, Any] = {}
    local: dict[str, Any] = {}
    for opt in options:
        raw, source = getattr(args, opt.target.replace(".", "__"), None), opt.flag
        if raw is None:
            source, raw = next(((e, environ[e]) for e in opt.envs if environ.get(e)), (opt.flag, None))
        if raw is None:
            continue
        try:
            value = opt.parse(raw)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
        if opt.target.startswith("call.local."):
            local[opt.target.removeprefix("call.local.")] = value
        elif opt.target.startswith("call."):
            call[opt.target.removeprefix("call.")] = value
        else:
            top[opt.target] = value
    if args is not None and getattr(args, "no_intake", False):
        top["intake"] = False
    settings = Settings(
        **top,
        api_key=environ.get("OPENAI_API_KEY") or None,
        twilio_auth_token=environ.get("TWILIO_AUTH_TOKEN") or None,
        twilio_account_sid=environ.get("TWILIO_ACCOUNT_SID") or None,
        stream_secret=environ.get("FASTGATE_STREAM_SECRET") or None,
    )
    call["local"] = replace(settings.call.local, **local)
    if call["local"].enabled:
        _check_detector(call["local"].detector)
    settings = replace(settings, call=call_config(settings, replace(settings.call, **call)))
    return with_profile_failure(settings)


def with_profile_failure(settings: Settings) -> Settings:
    """The profile's `[failure]` table fills what no flag or variable set: a fallback number, its sentence."""
    if not settings.intake or settings.fallback_number:
        return settings
    from bridge.intake.profile import load_profile

    profile = load_profile(settings.profile_path)
    if not profile.fallback_number:
        return settings
    return replace(
        settings,
        fallback_number=profile.fallback_number,
        transfer_message=profile.transfer_message or settings.transfer_message,
    )


def _check_detector(name: str) -> None:
    """Load the voice model once now, so a missing one is a start-up error, not a failed call."""
    from bridge.core.voice import voice_model

    try:
        voice_model(name)
    except (ImportError, OSError) as exc:
        raise ValueError(f"--voice-detector {name}: cannot load it ({exc})") from None


def call_config(settings: Settings, call: CallConfig) -> CallConfig:
    """The call's instructions and transcription prompt: from the profile, or the instructions file."""
    if settings.intake:
        from bridge.intake.profile import load_profile

        profile = load_profile(settings.profile_path)
        call = replace(
            call,
            instructions=profile.render_instructions(),
            transcription_prompt=profile.transcription_prompt(),
        )
    if settings.instructions_file:
        call = replace(call, instructions=Path(settings.instructions_file).read_text("utf-8"))
    return call
