"""One call's I/O: the Twilio socket in, the Realtime socket out, the sans-I/O Call in between.

Both sockets are picows listeners: each message reaches the Call in a callback (no task, no await per
message), and what the Call produced is written at once, in order, by writes that never wait (nothing
sent after a `clear` can overtake it). A timer ticks the Call's clock. Its events then go to the
application task, which never runs inside a socket callback: a slow lead write delays no audio. The
application's lead writes run on the store's writer thread, in order, and complete before the commands
that follow them (a tool's output) are applied, unless the database keeps them waiting longer than
WRITE_WAIT_SECONDS (another process holds its lock): then the call goes on and they land later.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from picows import WSCloseCode, WSError, WSMsgType, WSTransport, ws_connect

from bridge.core.actions import Action, EndCall, Log, SendRealtime, SendTwilio
from bridge.core.call import Call
from bridge.core.commands import Application, Command
from bridge.core.events import BargeInStarted, CallStarted, EndReason, Event
from bridge.core.stats import BargeIn, CallStats
from bridge.protocol import twilio
from bridge.server import metrics
from bridge.server.sockets import CallSocket, close_reason, server_text_frames
from bridge.server.stream_token import PARAMETER as TOKEN_PARAMETER
from bridge.server.stream_token import StreamTokens

if TYPE_CHECKING:
    from bridge.server.fallback import Fallback
    from bridge.server.settings import Settings

log = logging.getLogger("fastgate.bridge")
MODEL_GONE = (EndReason.REALTIME_FAILED, EndReason.REALTIME_LOST, EndReason.SESSION_EXPIRED)
SHIPPED_PROMPT = Path(__file__).parent / "audio" / "realtime_unavailable_he.ulaw"
TEXT = WSMsgType.TEXT


@functools.cache
def unavailable_prompt(path: str | None) -> bytes:
    return Path(path or SHIPPED_PROMPT).read_bytes()


# Lines whose text is what a person said or gave (words, digits, tool arguments, notes quoting them)
PERSONAL_TAGS = frozenset({"CALLER", "ASSISTANT", "TOOL", "SERVER EVENT", "DTMF"})


def private(line: Log) -> str:
    """The line as the log output shows it without --log-transcripts: personal text as its length."""
    if line.tag not in PERSONAL_TAGS:
        return line.message
    return replace(line, text=f"({len(line.text)} characters; --log-transcripts yes shows them)").message


WRITE_WAIT_SECONDS = 0.5  # how long a tool's output waits for its lead write before going out anyway
APP_DRAIN_SECONDS = 10.0  # at the end of a call, how long its last lead writes may take

OUTCOMES = {
    EndReason.CALLER_HUNG_UP: "caller_hangup",
    EndReason.GOODBYE_PLAYED: "completed",
    EndReason.REALTIME_FAILED: "realtime_failure",
    EndReason.REALTIME_LOST: "realtime_failure",
    EndReason.SESSION_EXPIRED: "session_expired",
    EndReason.SHUTDOWN: "shutdown",
}


@dataclass
class CallReport:
    call_sid: str
    ended: str
    end_reason: EndReason | None
    duration_ms: float
    stats: CallStats
    barge_ins: list[BargeIn]
    transcript: list[tuple[float, str, str]]
    started_at: float = 0.0  # server clock ms when the call began
    log_lines: list[tuple[float, Log]] = field(default_factory=list)
    app_errors: int = 0  # application writes or commands that failed (logged; the call went on)
    pauses: int = 0  # the AI paused for a possible interruption
    false_interruptions: int = 0  # ... and went on (cough, echo, backchannel)
    voice_frames: int = 0  # caller frames the local voice model had to look at


class CallSession:
    def __init__(
        self,
        settings: Settings,
        tokens: StreamTokens | None,
        app: Application,
        *,
        clock: Callable[[], float],
        writer: Executor,
        time_scale: float = 1.0,
        fallback: Fallback | None = None,
        began: Callable[[CallSession], None] = lambda _: None,
        finished: Callable[[CallSession, CallReport | None], None] = lambda _s, _r: None,
    ) -> None:
        self.settings, self.app = settings, app
        self.tokens = tokens  # None: streams are not checked (no Twilio auth token, local runs)
        self.now = clock
        self.writer = writer
        self.time_scale = time_scale
        self.fallback = fallback  # a person to hand the caller to when the model is gone
        self._began = began  # told when Twilio's socket is open
        self._finished = finished  # told once, with the report, when everything of the call is done
        self.started_at = self.now()
        self.call = Call(settings.call, tools=app.tools or None, now_ms=self.started_at)
        self.twilio: WSTransport | None = None
        self.realtime: WSTransport | None = None
        self._realtime_early: list[bytes] | None = []  # messages before the session is set up
        self.log_lines: list[tuple[float, Log]] = []
        self.app_errors = 0
        self._loop = asyncio.get_running_loop()
        self._sending_since: float | None = None  # Twilio stopped reading (our writes pile up) since
        self._writable = asyncio.Event()
        self._writable.set()
        self._last_heard = self.started_at  # the last message from Twilio
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._closing: asyncio.Task[None] | None = None
        self._finishing: asyncio.Task[None] | None = None
        self._app_task: asyncio.Task[None] | None = None
        self._realtime_task: asyncio.Task[None] | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._started = asyncio.Event()  # Twilio's `start` arrived: only then is a Realtime session paid for

    # -- the Twilio socket (picows calls these) ---------------------------------------------------------
    def twilio_socket(self) -> CallSocket:
        return CallSocket(
            self.settings.max_message_bytes,
            self._from_twilio,
            self._guarded(self._twilio_failed),
            self._twilio_closed,
            self._twilio_paused,
            connected=self._twilio_connected,
        )

    def _twilio_connected(self, transport: WSTransport) -> None:
        self.twilio = transport
        self._began(self)
        metrics.CALLS_ACTIVE.inc()
        self._app_task = self._loop.create_task(self._application())
        self._realtime_task = self._loop.create_task(self._realtime_side())
        for task in (self._app_task, self._realtime_task):
            task.add_done_callback(self._side_task_done)
        self._schedule_tick()

    def _from_twilio(self, data: bytes) -> None:
        # Guarded in place rather than by _guarded(): this runs for every caller frame.
        try:
            call = self.call
            if call.ending is not None:
                return
            self._last_heard = now = self.now()
            call.receive_twilio(data, now)
            if call.has_output:
                self.flush()
        except Exception as exc:
            self._crashed(exc)

    def _twilio_failed(self, why: str) -> None:
        self.call.end(EndReason.TWILIO_ERROR, why)
        self.flush()

    def _twilio_paused(self, paused: bool) -> None:
        if paused:
            self._sending_since = self.now()
            self._writable.clear()
        else:
            self._sending_since = None
            self._writable.set()

    def _twilio_closed(self, _said: str, error: str | None) -> None:
        self._writable.set()  # nothing will drain now: a paced prompt must not wait for it
        if self.call.ending is None:
            if error is None:
                self.call.end(EndReason.TWILIO_CLOSED)
            else:
                self.call.end(EndReason.TWILIO_ERROR, error)
        self._safely(self.flush)
        self._finishing = self._loop.create_task(self._finish())  # held: the loop keeps weak references

    def _guarded(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        """One call's bug ends that call (logged), never the socket library's loop or another call."""

        def guarded(argument: Any) -> None:
            self._safely(handler, argument)

        return guarded

    def _safely(self, handler: Callable[..., object], *args: Any) -> None:
        try:
            handler(*args)
        except Exception as exc:
            self._crashed(exc)

    def _crashed(self, exc: Exception) -> None:
        """In an except block: the bug is logged with its traceback and ends this call."""
        log.exception("[%s] call failed", self.call.call_sid)
        if self.call.ending is None:
            self.call.end(EndReason.INTERNAL_ERROR, repr(exc))
            with contextlib.suppress(Exception):
                self.flush()

    # -- the Realtime socket ------------------------------------------------------------------------------
    async def _realtime_side(self) -> None:
        s = self.settings
        try:
            async with asyncio.timeout(s.start_timeout * self.time_scale):
                await self._started.wait()
        except TimeoutError:
            self.call.end(
                EndReason.NO_START, f"no start within {s.start_timeout:g} s: no Realtime session opened"
            )
            self.flush()
            return
        if self.tokens is not None:
            call = self.call
            if not self.tokens.valid(call.call_sid, call.custom_parameters.get(TOKEN_PARAMETER)):
                call.end(EndReason.BAD_STREAM_TOKEN, "no Realtime session opened")
                self.flush()
                return
        socket = CallSocket(
            s.realtime_max_message_bytes,
            self._from_realtime,
            self._guarded(self._realtime_gone),
            lambda _said, _error: None,  # read from the transport once wait_disconnected() returns
        )
        try:
            async with asyncio.timeout(s.realtime_connect_timeout):
                transport, _ = await ws_connect(
                    lambda: socket,
                    s.realtime_endpoint,
                    extra_headers={"Authorization": f"Bearer {s.api_key or ''}"},
                    websocket_handshake_timeout=s.realtime_connect_timeout,
                    enable_auto_ping=True,
                    auto_ping_idle_timeout=s.realtime_ping_interval,
                    auto_ping_reply_timeout=s.realtime_ping_interval,
                    max_frame_size=s.realtime_max_message_bytes,
                )
        except (OSError, WSError, TimeoutError, ValueError) as exc:
            self.call.end(EndReason.REALTIME_FAILED, str(exc) or type(exc).__name__)
            self.flush()
            return
        self.realtime = transport
        if self.call.ending is not None:  # the caller left while we connected: open nothing
            self._close_realtime()
            return
        self.call.realtime_connected(self.now())
        self.flush()
        early, self._realtime_early = self._realtime_early or [], None
        for data in early:
            self._from_realtime(data)
        try:
            await transport.wait_disconnected()
            said, error = close_reason(transport)
            why = error or said
        except Exception as exc:  # picows closed it for a protocol error (e.g. a frame over the limit)
            why = str(exc) or type(exc).__name__
        self._realtime_gone(why)

    def _from_realtime(self, data: bytes) -> None:
        # Guarded in place rather than by _guarded(): this runs for every audio delta.
        try:
            if self._realtime_early is not None:  # before realtime_connected: in order, right after it
                self._realtime_early.append(data)
                return
            received = time.perf_counter()
            self.call.receive_realtime(data, self.now())
            for event in self.flush():
                if isinstance(event, BargeInStarted):
                    metrics.BARGE_INS.inc()
                    metrics.BARGE_IN_REACTION.observe(time.perf_counter() - received)
        except Exception as exc:
            self._crashed(exc)

    def _realtime_gone(self, why: str) -> None:
        if self.call.ending is None:
            self.call.end(EndReason.REALTIME_LOST, why)
            self.flush()

    def _close_realtime(self) -> None:
        if self.realtime is not None and not self.realtime.is_disconnected:
            if not self.realtime.is_close_frame_sent:
                self.realtime.send_close(WSCloseCode.OK)
            self.realtime.disconnect()

    # -- the clock ------------------------------------------------------------------------------------------
    def _schedule_tick(self) -> None:
        self._tick = self._loop.call_later(self.settings.tick_ms / 1000.0 * self.time_scale, self._ticked)

    def _ticked(self) -> None:
        if self.call.ending is not None:
            return
        self._safely(self._on_tick)
        if self.call.ending is None:
            self._schedule_tick()

    def _on_tick(self) -> None:
        now = self.now()
        self._watch_twilio(now)
        self.call.tick(now)
        if self.call.has_output:
            self.flush()

    def _watch_twilio(self, now: float) -> None:
        """A Twilio peer that stopped reading (our writes pile up) or stopped sending ends its call; the
        clock checks, so no send and no message pays for a timer."""
        s = self.settings  # `now` is the call's clock in ms: scenario time in a simulation, like the settings
        if self.call.ending is not None:
            return
        if self._sending_since is not None and now - self._sending_since > s.twilio_send_timeout * 1000:
            self.call.end(EndReason.TWILIO_STALLED, f"a send blocked for {s.twilio_send_timeout:g} s")
            self._abort_twilio()
        elif now - self._last_heard > s.twilio_idle_timeout * 1000:
            self.call.end(EndReason.TWILIO_SILENT, f"nothing for {s.twilio_idle_timeout:g} s")
            self._abort_twilio()

    def _abort_twilio(self) -> None:
        """Drops the socket, unsent bytes and all; its end (a callback) finishes the call."""
        if self.twilio is not None and not self.twilio.is_disconnected:
            self.twilio.disconnect(graceful=False)

    # -- the end ------------------------------------------------------------------------------------------
    def _side_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("[%s] call task failed", self.call.call_sid, exc_info=task.exception())
        if self.call.ending is None:
            self.call.end(EndReason.INTERNAL_ERROR, repr(task.exception()))
            self._safely(self.flush)

    async def _finish(self) -> None:
        """After Twilio's socket is gone: the last writes and lead writes, then the report."""
        report: CallReport | None = None
        try:
            if self._tick is not None:
                self._tick.cancel()
            if self._realtime_task is not None:
                self._realtime_task.cancel()
                await asyncio.gather(self._realtime_task, return_exceptions=True)
            self._safely(self.flush)  # what a cancelled task left: the [END] line above all
            if self._closing is not None:
                with contextlib.suppress(Exception):
                    await self._closing
            self._events.put_nowait(None)
            if self._app_task is not None:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(self._app_task), APP_DRAIN_SECONDS)
                self._app_task.cancel()
            self._close_realtime()
            report = self._report()
        except Exception:
            log.exception("[%s] call failed", self.call.call_sid)
        finally:
            if self.twilio is not None:
                metrics.CALLS_ACTIVE.dec()
            self._finished(self, report)
            self._let_go()

    def _let_go(self) -> None:
        """Drop the references that close cycles (session → socket → listener → session, timer, tasks):
        an ended call's objects are freed by reference counting, not left for a full garbage collection."""
        self.twilio = self.realtime = None
        self._tick = None
        self._app_task = self._realtime_task = self._closing = self._finishing = None

    # -- the application ----------------------------------------------------------------------------------
    async def _application(self) -> None:
        loop = asyncio.get_running_loop()
        writes: list[asyncio.Future[None]] = []
        while (event := await self._events.get()) is not None:
            for item in self.app.handle(event):
                if isinstance(item, Command):
                    self.call.apply(item, self.now())
                    self.flush()
                    continue
                write = loop.run_in_executor(self.writer, self.app.perform, item)
                write.add_done_callback(functools.partial(self._write_done, type(item).__name__))
                writes.append(write)
                try:
                    await asyncio.wait_for(asyncio.shield(write), WRITE_WAIT_SECONDS * self.time_scale)
                except TimeoutError:
                    log.warning(
                        "[%s] a lead write waits on the database; the call goes on", self.call.call_sid
                    )
                except Exception:  # counted and logged by _write_done
                    pass
        await asyncio.gather(*writes, return_exceptions=True)

    def _write_done(self, kind: str, write: asyncio.Future[None]) -> None:
        """A store failure is logged, never the end of a call (the values are personal: the kind only)."""
        if write.cancelled() or write.exception() is None:
            return
        self.app_errors += 1
        log.error("[%s] application write %s failed: %r", self.call.call_sid, kind, write.exception())

    # -- the writer ---------------------------------------------------------------------------------------
    def flush(self) -> list[Event]:
        """Write what the Call produced, in order (picows writes never wait: nothing can overtake a
        `clear`); then hand its events to the application."""
        to_twilio: list[str] = []  # in a row: one write
        for action in self.call.actions():
            if type(action) is SendTwilio:
                to_twilio.append(action.text)
                continue
            if to_twilio:
                self._send_twilio(to_twilio)
                to_twilio = []
            self._do(action)
        if to_twilio:
            self._send_twilio(to_twilio)
        events = self.call.events()
        for event in events:
            if type(event) is CallStarted:
                self._started.set()
            self._events.put_nowait(event)
        return events

    def _do(self, action: Action) -> None:
        if isinstance(action, SendRealtime):
            if self.realtime is not None and not self.realtime.is_close_frame_sent:
                self.realtime.send(TEXT, action.text)
        elif isinstance(action, SendTwilio):
            self._send_twilio([action.text])
        elif isinstance(action, Log):
            self.log_lines.append((self.now(), action))
            log.log(action.level, action.message if self.settings.log_transcripts else private(action))
        elif isinstance(action, EndCall) and self._closing is None:
            self._closing = self._loop.create_task(self._close())

    def _send_twilio(self, texts: list[str]) -> None:
        if not self._twilio_open():
            return
        if len(texts) == 1:
            self.twilio.send(TEXT, texts[0])  # type: ignore[union-attr]
        else:
            self.twilio.underlying_transport.write(server_text_frames(texts))  # type: ignore[union-attr]

    def _twilio_open(self) -> bool:
        return (
            self.twilio is not None
            and not self.twilio.is_disconnected
            and not self.twilio.is_close_frame_sent
        )

    async def _close(self) -> None:
        s = self.settings
        ending = self.call.ending
        if (
            ending
            and ending.reason is EndReason.GOODBYE_PLAYED
            and s.twilio_account_sid
            and s.twilio_auth_token
        ):
            await self._hang_up_by_rest()
        if ending and ending.reason in MODEL_GONE and self.fallback and self.call.stream_sid:
            self.fallback.hand_over(self.call.call_sid)  # Twilio asks /stream-ended next: <Dial>
            log.info("[%s] the model is gone: handing the caller to the fallback number", self.call.call_sid)
        elif ending and ending.reason in MODEL_GONE:
            try:
                await self._say_unavailable()
            except TimeoutError:
                log.warning("[%s] twilio stopped reading the unavailable prompt", self.call.call_sid)
                self._abort_twilio()
        if self._twilio_open():
            self.twilio.send_close(WSCloseCode.OK)  # type: ignore[union-attr]  # Twilio goes on with the TwiML
            self.twilio.disconnect()  # type: ignore[union-attr]  # after what is written has gone out
        self._close_realtime()

    async def _say_unavailable(self) -> None:
        """With no model behind the call, a recorded apology rather than dead air; then the stream ends."""
        sid = self.call.stream_sid
        if sid is None or not self._twilio_open():
            return
        prompt = unavailable_prompt(self.settings.unavailable_prompt)
        await self._send_when_writable(twilio.clear(sid))
        step = 8 * 100  # 100 ms per media message, as AI audio goes out
        for i in range(0, len(prompt), step):
            payload = base64.b64encode(prompt[i : i + step]).decode("ascii")
            await self._send_when_writable(twilio.media(sid, payload))
        log.info("[%s] played the unavailable prompt (%.1f s)", self.call.call_sid, len(prompt) / 8000)
        await asyncio.sleep((len(prompt) / 8000 + 0.3) * self.time_scale)  # Twilio plays what it has

    async def _send_when_writable(self, text: str) -> None:
        """After the call's end, when the clock no longer watches: TimeoutError if Twilio stopped reading."""
        async with asyncio.timeout(self.settings.twilio_send_timeout * self.time_scale):
            await self._writable.wait()
        if self._twilio_open():
            self.twilio.send(TEXT, text)  # type: ignore[union-attr]

    async def _hang_up_by_rest(self) -> None:
        """Ends the phone call itself (not just the stream) through Twilio's REST API."""
        from twilio.base.exceptions import TwilioException
        from twilio.rest import Client

        s, sid = self.settings, self.call.call_sid

        def hang_up() -> None:
            Client(s.twilio_account_sid, s.twilio_auth_token).calls(sid).update(status="completed")

        try:
            await asyncio.wait_for(asyncio.to_thread(hang_up), timeout=5)
            log.info("[%s] hung up through the Twilio REST API", sid)
        except (TwilioException, OSError, TimeoutError) as exc:
            log.warning("[%s] REST hangup failed (%s); closing the stream instead", sid, exc)

    def _report(self) -> CallReport:
        c = self.call
        reason = c.ending.reason if c.ending else None
        metrics.CALLS_TOTAL.labels(outcome=OUTCOMES.get(reason, "other") if reason else "other").inc()
        metrics.CALLER_FRAMES.labels(result="forwarded").inc(c.stats.frames_forwarded)
        metrics.CALLER_FRAMES.labels(result="silenced").inc(c.stats.frames_silenced)
        metrics.LATE_DELTAS.inc(c.stats.late_deltas_dropped)
        metrics.MALFORMED.labels(source="twilio").inc(c.stats.malformed_twilio)
        metrics.MALFORMED.labels(source="realtime").inc(c.stats.malformed_realtime)
        for code, n in c.stats.realtime_errors.items():
            metrics.REALTIME_ERRORS.labels(code=code).inc(n)
        return CallReport(
            call_sid=c.call_sid,
            ended=c.ended or "",
            end_reason=reason,
            duration_ms=c.elapsed_ms,
            stats=c.stats,
            barge_ins=c.barge_ins,
            transcript=c.transcript,
            started_at=self.started_at,
            log_lines=self.log_lines,
            app_errors=self.app_errors,
            pauses=c.pauses,
            false_interruptions=c.false_interruptions,
            voice_frames=c.local.frames_checked if c.local else 0,
        )
