"""The I/O: HTTP (TwiML webhook, health, metrics) and the Twilio media websocket on aiohttp,
one Realtime websocket per call, all on one event loop (uvloop when installed).

Each call is two reader tasks and a ticker around one sans-I/O `Call`; every action it emits
goes out in order through one writer lock, so nothing sent after a `clear` can overtake it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from bridge.core.actions import EndCall, Log, SendRealtime, SendTwilio
from bridge.core.call import BargeIn, Call, CallPolicy, CallStats
from bridge.server import metrics
from bridge.server.settings import Settings
from bridge.server.twiml import SignatureCheck, stream_twiml, websocket_url

log = logging.getLogger("fastgate.bridge")


@dataclass
class CallReport:
    call_sid: str
    ended: str
    duration_ms: float
    stats: CallStats
    barge_ins: list[BargeIn]
    transcript: list[tuple[float, str, str]]
    started_at: float = 0.0  # server clock ms when the call began
    log_lines: list[tuple[float, str]] = field(default_factory=list)


class CallSession:
    """Runs one call: Twilio socket in, Realtime socket out, the Call in between."""

    def __init__(self, server: BridgeServer, twilio_ws: web.WebSocketResponse) -> None:
        self.server, self.twilio_ws = server, twilio_ws
        self.settings = server.settings
        self.now = server.clock
        policy = server.policy_factory() if server.policy_factory else None
        self.started_at = self.now()
        self.call = Call(self.settings.call, policy=policy, now_ms=self.started_at)
        self.realtime: ClientConnection | None = None
        self.log_lines: list[tuple[float, str]] = []
        self._write_lock = asyncio.Lock()
        self._rt_backlog: list[str] = []
        self._closing = False
        self._pending_flush: asyncio.Future[None] | None = None

    async def run(self) -> None:
        metrics.CALLS_ACTIVE.inc()
        tasks = [asyncio.create_task(self._realtime_side()), asyncio.create_task(self._ticker())]
        for task in tasks:
            task.add_done_callback(self._side_task_done)
        try:
            await self._twilio_side()
        finally:
            if self.call.ended is None:
                self.call.end("twilio socket closed")
                await self.flush()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.realtime is not None:
                await self.realtime.close()
            metrics.CALLS_ACTIVE.dec()
            self._report()

    def _side_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("[%s] call task failed", self.call.call_sid, exc_info=task.exception())
        if self.call.ended is None:
            self.call.end(f"internal error: {task.exception()!r}")
            self._pending_flush = asyncio.ensure_future(self.flush())

    async def _twilio_side(self) -> None:
        async for msg in self.twilio_ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                self.call.receive_twilio(msg.data, self.now())
            else:  # ERROR (e.g. a message over the size limit): the socket is unusable
                self.call.end(f"twilio socket error: {self.twilio_ws.exception()}")
            await self.flush()
            if self.call.ended is not None:
                break

    async def _realtime_side(self) -> None:
        s = self.settings
        headers = {"Authorization": f"Bearer {s.api_key or ''}"}
        try:
            self.realtime = await connect(
                s.realtime_endpoint,
                additional_headers=headers,
                compression=None,
                max_size=s.realtime_max_message_bytes,
                open_timeout=s.realtime_connect_timeout,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            self.call.end(f"realtime connection failed: {exc}")
            await self.flush()
            return
        self.call.realtime_connected(self.now())
        await self.flush()
        try:
            async for raw in self.realtime:
                received = time.perf_counter()
                barge_ins = len(self.call.barge_ins)
                self.call.receive_realtime(raw, self.now())
                await self.flush()
                if len(self.call.barge_ins) > barge_ins:
                    metrics.BARGE_INS.inc()
                    metrics.BARGE_IN_REACTION.observe(time.perf_counter() - received)
        except ConnectionClosed:
            pass
        if self.call.ended is None:
            code, reason = self.realtime.close_code, self.realtime.close_reason
            why = f"{code} {reason}".strip() if code is not None else "no close frame"
            self.call.end(f"realtime connection lost ({why})")
            await self.flush()

    async def _ticker(self) -> None:
        interval = self.settings.tick_ms / 1000.0 * self.server.time_scale
        while self.call.ended is None:
            await asyncio.sleep(interval)
            self.call.tick(self.now())
            await self.flush()

    async def flush(self) -> None:
        async with self._write_lock:
            for action in self.call.actions():
                if isinstance(action, SendRealtime):
                    await self._send_realtime(action.text)
                elif isinstance(action, SendTwilio):
                    if not self.twilio_ws.closed:
                        await self.twilio_ws.send_str(action.text)
                elif isinstance(action, Log):
                    self.log_lines.append((self.now(), action.message))
                    log.log(action.level, action.message)
                elif isinstance(action, EndCall):
                    await self._close(action.reason)

    async def _send_realtime(self, text: str) -> None:
        if self.realtime is None:
            self._rt_backlog.append(text)
            return
        if self._rt_backlog:
            backlog, self._rt_backlog = self._rt_backlog, []
            for queued in backlog:
                await self._send_realtime(queued)
        with contextlib.suppress(ConnectionClosed):  # the reader notices and ends the call with the reason
            await self.realtime.send(text)

    async def _close(self, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        if (
            reason == "goodbye played"
            and self.settings.twilio_account_sid
            and self.settings.twilio_auth_token
        ):
            await self._hang_up_by_rest()
        if not self.twilio_ws.closed:
            await self.twilio_ws.close()  # Twilio goes on with the TwiML after <Connect>
        if self.realtime is not None:
            await self.realtime.close()

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

    def _report(self) -> None:
        c = self.call
        metrics.CALLS_TOTAL.labels(outcome=_outcome(c.ended or "")).inc()
        metrics.CALLER_FRAMES.labels(result="forwarded").inc(c.stats.frames_forwarded)
        metrics.CALLER_FRAMES.labels(result="silenced").inc(c.stats.frames_silenced)
        metrics.LATE_DELTAS.inc(c.stats.late_deltas_dropped)
        metrics.MALFORMED.labels(source="twilio").inc(c.stats.malformed_twilio)
        metrics.MALFORMED.labels(source="realtime").inc(c.stats.malformed_realtime)
        for code, n in c.stats.realtime_errors.items():
            metrics.REALTIME_ERRORS.labels(code=code).inc(n)
        self.server.finished.append(
            CallReport(
                call_sid=c.call_sid,
                ended=c.ended or "",
                duration_ms=c.elapsed_ms,
                stats=c.stats,
                barge_ins=c.barge_ins,
                transcript=c.transcript,
                started_at=self.started_at,
                log_lines=self.log_lines,
            )
        )


def _outcome(reason: str) -> str:
    for key, label in (
        ("hung up", "caller_hangup"),
        ("goodbye", "completed"),
        ("realtime", "realtime_failure"),
        ("shutting down", "shutdown"),
    ):
        if key in reason:
            return label
    return "other"


class BridgeServer:
    def __init__(
        self,
        settings: Settings,
        *,
        policy_factory: Callable[[], CallPolicy] | None = None,
        clock: Callable[[], float] | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self.settings = settings
        self.policy_factory = policy_factory
        self.clock = clock or (lambda: time.monotonic() * 1000.0)
        self.time_scale = time_scale
        self.signatures = SignatureCheck(settings.twilio_auth_token)
        self.sessions: set[CallSession] = set()
        self.finished: deque[CallReport] = deque(maxlen=200)
        self.draining = False
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("POST", "/incoming-call", self.incoming_call)
        app.router.add_route("GET", "/incoming-call", self.incoming_call)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/media-stream", self.media_stream)
        return app

    async def start(self) -> int:
        if not self.signatures.enabled:
            log.warning("TWILIO_AUTH_TOKEN is not set: requests and media streams are NOT authenticated")
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None)  # the port, when 0 asked the OS for one
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
        log.info(
            "listening on http://%s:%s (realtime: %s)",
            self.settings.host,
            self.port,
            self.settings.realtime_endpoint,
        )
        return self.port

    async def stop(self, drain_seconds: float | None = None) -> None:
        """Stop taking calls, let the ones in progress finish (up to drain_seconds), then close."""
        self.draining = True
        deadline = time.monotonic() + (
            self.settings.drain_seconds if drain_seconds is None else drain_seconds
        )
        if self.sessions:
            log.info("draining %d call(s)", len(self.sessions))
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            session.call.end("server shutting down")
            await session.flush()
        if self._runner is not None:
            await self._runner.cleanup()

    def _public_base(self, request: web.Request) -> str:
        return (self.settings.public_url or f"{request.scheme}://{request.host}").rstrip("/")

    async def incoming_call(self, request: web.Request) -> web.Response:
        params = dict(await request.post()) if request.method == "POST" else {}
        url = self._public_base(request) + request.path_qs
        if not self.signatures.valid(
            url, {k: str(v) for k, v in params.items()}, request.headers.get("X-Twilio-Signature")
        ):
            log.warning("rejected /incoming-call: bad or missing X-Twilio-Signature")
            return web.Response(status=403, text="invalid signature\n")
        if self.draining:
            return web.Response(status=503, text="draining\n")
        caller = str(params.get("From") or request.query.get("From", ""))
        stream = websocket_url(self._public_base(request), "/media-stream")
        return web.Response(text=stream_twiml(stream, {"caller": caller}), content_type="text/xml")

    async def healthz(self, request: web.Request) -> web.Response:
        status = 503 if self.draining else 200
        return web.json_response(
            {"status": "draining" if self.draining else "ok", "calls": len(self.sessions)}, status=status
        )

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def media_stream(self, request: web.Request) -> web.StreamResponse:
        url = websocket_url(self._public_base(request), request.path)
        if not self.signatures.valid(url, {}, request.headers.get("X-Twilio-Signature")):
            log.warning("rejected /media-stream: bad or missing X-Twilio-Signature")
            return web.Response(status=403, text="invalid signature\n")
        if self.draining:
            return web.Response(status=503, text="draining\n")
        ws = web.WebSocketResponse(max_msg_size=self.settings.max_message_bytes, compress=False)
        await ws.prepare(request)
        session = CallSession(self, ws)
        self.sessions.add(session)
        try:
            await session.run()
        except Exception:  # one call's bug must not take the server down
            log.exception("[%s] call failed", session.call.call_sid)
        finally:
            self.sessions.discard(session)
        return ws


def summary(report: CallReport) -> dict[str, Any]:
    return {
        "call_sid": report.call_sid,
        "ended": report.ended,
        "duration_ms": round(report.duration_ms),
        "stats": report.stats.__dict__,
        "barge_ins": [b.__dict__ for b in report.barge_ins],
    }
