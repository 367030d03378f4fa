"""One call's I/O: the Twilio socket in, the Realtime socket out, the sans-I/O Call in between.

Three tasks run around the Call: the Twilio reader, the Realtime reader and a ticker, and beside
them the application task. After each input, what the Call produced is written first, in order,
through one writer lock (nothing sent after a `clear` can overtake it); its events then go to the
application task, which never runs inside a reader: a slow lead write delays no audio. The
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
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from bridge.core.actions import Action, EndCall, Log, SendRealtime, SendTwilio
from bridge.core.call import Call
from bridge.core.commands import Application, Command
from bridge.core.events import BargeInStarted, EndReason, Event
from bridge.core.stats import BargeIn, CallStats
from bridge.protocol import twilio
from bridge.server import metrics
from bridge.server.stream_token import PARAMETER as TOKEN_PARAMETER
from bridge.server.stream_token import StreamTokens

if TYPE_CHECKING:
    from bridge.server.fallback import Fallback
    from bridge.server.settings import Settings

log = logging.getLogger("fastgate.bridge")
MODEL_GONE = (EndReason.REALTIME_FAILED, EndReason.REALTIME_LOST, EndReason.SESSION_EXPIRED)
SHIPPED_PROMPT = Path(__file__).parent / "audio" / "realtime_unavailable_he.ulaw"


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
        twilio_ws: web.WebSocketResponse,
        tokens: StreamTokens | None,
        app: Application,
        *,
        clock: Callable[[], float],
        writer: Executor,
        time_scale: float = 1.0,
        abort_twilio: Callable[[], None] | None = None,
        fallback: Fallback | None = None,
    ) -> None:
        self.settings, self.twilio_ws, self.app = settings, twilio_ws, app
        self.tokens = tokens  # None: streams are not checked (no Twilio auth token, local runs)
        self.now = clock
        self.writer = writer
        self.time_scale = time_scale
        self.started_at = self.now()
        self.call = Call(settings.call, tools=app.tools or None, now_ms=self.started_at)
        self.realtime: ClientConnection | None = None
        self.log_lines: list[tuple[float, Log]] = []
        self.app_errors = 0
        self._write_lock = asyncio.Lock()
        self._pending: deque[Action] = deque()  # taken from the Call, not yet done (survives a cancel)
        self.fallback = fallback  # a person to hand the caller to when the model is gone
        self._abort_twilio = abort_twilio or (lambda: None)  # drops the socket, unsent bytes and all
        self._sending_since: float | None = None  # a send to Twilio in progress (it may block)
        self._last_heard = self.started_at  # the last message from Twilio
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._closing = False
        self._last_flush: asyncio.Future[list[Event]] | None = None  # after a failed task
        self._started = asyncio.Event()  # Twilio's `start` arrived: only then is a Realtime session paid for

    async def run(self) -> CallReport:
        metrics.CALLS_ACTIVE.inc()
        app_task = asyncio.create_task(self._application())
        tasks = [asyncio.create_task(self._realtime_side()), asyncio.create_task(self._ticker())]
        for task in (*tasks, app_task):
            task.add_done_callback(self._side_task_done)
        try:
            await self._twilio_side()
        finally:
            if self.call.ending is None:
                self.call.end(EndReason.TWILIO_CLOSED)
            await self.flush()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.flush()  # what a cancelled task had taken but not done: the [END] line above all
            self._events.put_nowait(None)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(app_task), APP_DRAIN_SECONDS)
            app_task.cancel()
            if self.realtime is not None:
                await self.realtime.close()
            metrics.CALLS_ACTIVE.dec()
        return self._report()

    def _side_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("[%s] call task failed", self.call.call_sid, exc_info=task.exception())
        if self.call.ending is None:
            self.call.end(EndReason.INTERNAL_ERROR, repr(task.exception()))
            self._last_flush = asyncio.ensure_future(self.flush())

    # -- the readers --------------------------------------------------------------------------------------
    async def _twilio_side(self) -> None:
        async for msg in self.twilio_ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                self._last_heard = now = self.now()
                self.call.receive_twilio(msg.data, now)
                if self.call.stream_sid is not None:
                    self._started.set()
            else:  # ERROR (e.g. a message over the size limit): the socket is unusable
                self.call.end(EndReason.TWILIO_ERROR, str(self.twilio_ws.exception()))
            if self._pending or self.call.has_output:
                await self.flush()
            if self.call.ending is not None:
                break

    async def _realtime_side(self) -> None:
        s = self.settings
        try:
            async with asyncio.timeout(s.start_timeout * self.time_scale):
                await self._started.wait()
        except TimeoutError:
            self.call.end(
                EndReason.NO_START, f"no start within {s.start_timeout:g} s: no Realtime session opened"
            )
            await self.flush()
            return
        if self.tokens is not None:
            call = self.call
            if not self.tokens.valid(call.call_sid, call.custom_parameters.get(TOKEN_PARAMETER)):
                call.end(EndReason.BAD_STREAM_TOKEN, "no Realtime session opened")
                await self.flush()
                return
        try:
            self.realtime = await connect(
                s.realtime_endpoint,
                additional_headers={"Authorization": f"Bearer {s.api_key or ''}"},
                compression=None,
                max_size=s.realtime_max_message_bytes,
                open_timeout=s.realtime_connect_timeout,
                ping_interval=s.realtime_ping_interval,
                ping_timeout=s.realtime_ping_interval,
                close_timeout=s.realtime_ping_interval,  # a silent peer will not answer the close either
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            self.call.end(EndReason.REALTIME_FAILED, str(exc))
            await self.flush()
            return
        if self.call.ending is not None:  # the caller left while we connected: open nothing
            await self.realtime.close()
            return
        self.call.realtime_connected(self.now())
        await self.flush()
        try:
            async for raw in self.realtime:
                received = time.perf_counter()
                self.call.receive_realtime(raw, self.now())
                for event in await self.flush():
                    if isinstance(event, BargeInStarted):
                        metrics.BARGE_INS.inc()
                        metrics.BARGE_IN_REACTION.observe(time.perf_counter() - received)
        except ConnectionClosed:
            pass
        if self.call.ending is None:
            code, reason = self.realtime.close_code, self.realtime.close_reason
            why = f"{code} {reason}".strip() if code is not None else "no close frame"
            self.call.end(EndReason.REALTIME_LOST, why)
            await self.flush()

    async def _ticker(self) -> None:
        interval = self.settings.tick_ms / 1000.0 * self.time_scale
        while self.call.ending is None:
            await asyncio.sleep(interval)
            now = self.now()
            self._watch_twilio(now)
            self.call.tick(now)
            if self._pending or self.call.has_output:
                await self.flush()

    def _watch_twilio(self, now: float) -> None:
        """A Twilio peer that stopped reading (a send blocked) or stopped sending ends its call; the ticker
        checks, so no send and no message pays for a timer."""
        s = self.settings  # `now` is the call's clock in ms: scenario time in a simulation, like the settings
        if self.call.ending is not None:
            return
        if self._sending_since is not None and now - self._sending_since > s.twilio_send_timeout * 1000:
            self.call.end(EndReason.TWILIO_STALLED, f"a send blocked for {s.twilio_send_timeout:g} s")
            self._abort_twilio()  # wakes the blocked send with an error; the flush goes on
        elif now - self._last_heard > s.twilio_idle_timeout * 1000:
            self.call.end(EndReason.TWILIO_SILENT, f"nothing for {s.twilio_idle_timeout:g} s")
            self._abort_twilio()

    # -- the application ----------------------------------------------------------------------------------
    async def _application(self) -> None:
        loop = asyncio.get_running_loop()
        writes: list[asyncio.Future[None]] = []
        while (event := await self._events.get()) is not None:
            for item in self.app.handle(event):
                if isinstance(item, Command):
                    self.call.apply(item, self.now())
                    await self.flush()
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
    async def flush(self) -> list[Event]:
        """Write what the Call produced, in order; then hand its events to the application."""
        async with self._write_lock:
            self._pending.extend(self.call.actions())
            events = self.call.events()
            while self._pending:
                action = self._pending.popleft()
                try:
                    await self._do(action)
                except (ConnectionError, RuntimeError) as exc:  # the peer went away mid-send: the rest
                    log.debug("[%s] %s not sent: %r", self.call.call_sid, type(action).__name__, exc)
        for event in events:
            self._events.put_nowait(event)
        return events

    async def _do(self, action: Action) -> None:
        if isinstance(action, SendRealtime):
            if self.realtime is not None:
                with contextlib.suppress(ConnectionClosed):  # the reader notices and ends the call
                    await self.realtime.send(action.text)
        elif isinstance(action, SendTwilio):
            if not self.twilio_ws.closed:
                self._sending_since = self.now()
                try:
                    await self.twilio_ws.send_str(action.text)
                finally:
                    self._sending_since = None
        elif isinstance(action, Log):
            self.log_lines.append((self.now(), action))
            log.log(action.level, action.message if self.settings.log_transcripts else private(action))
        elif isinstance(action, EndCall):
            await self._close()

    async def _close(self) -> None:
        if self._closing:
            return
        self._closing = True
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
            except (ConnectionError, RuntimeError):
                pass  # the caller left
        if not self.twilio_ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
                async with asyncio.timeout(self.settings.twilio_send_timeout * self.time_scale):
                    await self.twilio_ws.close()  # Twilio goes on with the TwiML after <Connect>
        if self.realtime is not None:
            await self.realtime.close()

    async def _say_unavailable(self) -> None:
        """With no model behind the call, a recorded apology rather than dead air; then the stream ends."""
        sid = self.call.stream_sid
        if sid is None or self.twilio_ws.closed:
            return
        prompt = unavailable_prompt(self.settings.unavailable_prompt)
        await self._send_within_timeout(twilio.clear(sid))
        step = 8 * 100  # 100 ms per media message, as AI audio goes out
        for i in range(0, len(prompt), step):
            payload = base64.b64encode(prompt[i : i + step]).decode("ascii")
            await self._send_within_timeout(twilio.media(sid, payload))
        log.info("[%s] played the unavailable prompt (%.1f s)", self.call.call_sid, len(prompt) / 8000)
        await asyncio.sleep((len(prompt) / 8000 + 0.3) * self.time_scale)  # Twilio plays what it has

    async def _send_within_timeout(self, text: str) -> None:
        """After the call's end, when the ticker no longer watches: TimeoutError if Twilio stopped reading."""
        async with asyncio.timeout(self.settings.twilio_send_timeout * self.time_scale):
            await self.twilio_ws.send_str(text)

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
