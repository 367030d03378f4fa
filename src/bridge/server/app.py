"""The call server on one port: HTTP (TwiML webhook, health, metrics) on aiohttp, Twilio's media
websocket on picows (see front_door), one Realtime websocket per call, all on one event loop (uvloop
when installed)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener
from prometheus_client import CONTENT_TYPE_LATEST

from bridge.core.commands import Application, PlainBridge
from bridge.core.events import EndReason
from bridge.server import fallback, metrics
from bridge.server.front_door import FrontDoor, media_protocol_factory
from bridge.server.session import CallReport, CallSession
from bridge.server.settings import Settings
from bridge.server.sockets import CallSocket
from bridge.server.stream_token import PARAMETER as TOKEN_PARAMETER
from bridge.server.stream_token import StreamTokens
from bridge.server.twiml import SignatureCheck, busy_twiml, stream_twiml, websocket_url

log = logging.getLogger("fastgate.bridge")


class BridgeServer:
    def __init__(
        self,
        settings: Settings,
        *,
        app_factory: Callable[[], Application] | None = None,
        clock: Callable[[], float] | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self.settings = settings
        self.app_factory: Callable[[], Application] = app_factory or PlainBridge
        self.clock = clock or (lambda: time.monotonic() * 1000.0)
        self.time_scale = time_scale
        self.signatures = SignatureCheck(settings.twilio_auth_token)
        self.tokens = StreamTokens(settings.stream_secret or settings.twilio_auth_token)
        self.fallback = fallback.for_settings(settings)
        self.sessions: set[CallSession] = set()
        self.finished: deque[CallReport] = deque(maxlen=200)
        self.draining = False
        self.port: int | None = None
        # one thread for the applications' writes (SQLite has one writer): never the event loop
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastgate-writer")
        self._runner: web.AppRunner | None = None
        self._listening: asyncio.Server | None = None
        self.closers: list[Callable[[], None]] = []  # what stop() closes last (the lead store)

    @classmethod
    def for_settings(cls, settings: Settings) -> BridgeServer:
        """The server as its settings describe it: lead intake with its profile and store, or none."""
        if not settings.intake:
            return cls(settings)
        from bridge.intake import intake_factory
        from bridge.intake.profile import load_profile
        from bridge.intake.store import open_store

        store = open_store(settings.db_path) if settings.db_path else None
        server = cls(settings, app_factory=intake_factory(load_profile(settings.profile_path), store))
        server.closers.append(store.close if store else lambda: None)
        return server

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("POST", "/incoming-call", self.incoming_call)
        app.router.add_route("GET", "/incoming-call", self.incoming_call)
        app.router.add_route("POST", fallback.PATH, self.stream_ended)
        app.router.add_route("GET", fallback.PATH, self.stream_ended)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        return app

    async def start(self) -> int:
        if not self.signatures.enabled:
            log.warning("TWILIO_AUTH_TOKEN is not set: requests and media streams are NOT authenticated")
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        http = self._runner.server
        assert http is not None
        media = media_protocol_factory(
            self.media_stream,
            max_frame_size=self.settings.max_message_bytes,
            handshake_timeout=10.0,
        )
        self._listening = await asyncio.get_running_loop().create_server(
            lambda: FrontDoor(media, http),
            self.settings.host,
            self.settings.port,
            reuse_port=self.settings.workers > 1,
            backlog=1024,
        )
        self.port = self._listening.sockets[0].getsockname()[1]
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
        if self._listening is not None:
            self._listening.close()
        for session in list(self.sessions):
            session.call.end(EndReason.SHUTDOWN)
            session.flush()
        while self.sessions and time.monotonic() < deadline + 5:
            await asyncio.sleep(0.05)  # their last lead writes
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.to_thread(self.writer.shutdown, wait=True)
        for close in self.closers:
            close()

    @property
    def full(self) -> bool:
        return len(self.sessions) >= self.settings.max_calls

    def _public_base(self, request: web.Request) -> str:
        return (self.settings.public_url or f"{request.scheme}://{request.host}").rstrip("/")

    async def _signed_params(self, request: web.Request) -> dict[str, str] | None:
        """The webhook's parameters (form body or query), or None when its signature is bad."""
        form = {k: str(v) for k, v in (await request.post()).items()} if request.method == "POST" else {}
        url = self._public_base(request) + request.path_qs
        if not self.signatures.valid(url, form, request.headers.get("X-Twilio-Signature")):
            log.warning("rejected %s: bad or missing X-Twilio-Signature", request.path)
            return None
        return {**request.query, **form}

    async def incoming_call(self, request: web.Request) -> web.Response:
        params = await self._signed_params(request)
        if params is None:
            return web.Response(status=403, text="invalid signature\n")
        if self.draining:
            return web.Response(status=503, text="draining\n")
        if self.full:
            metrics.CALLS_REFUSED.labels("capacity").inc()
            log.warning("refused a call: %d calls in progress (--max-calls)", len(self.sessions))
            s = self.settings
            return web.Response(
                text=busy_twiml(s.busy_message, s.busy_voice, s.busy_language), content_type="text/xml"
            )
        call_sid = params.get("CallSid", "")
        base = self._public_base(request)
        parameters = {"caller": params.get("From", "")}
        if call_sid:
            parameters[TOKEN_PARAMETER] = self.tokens.issue(call_sid)
        action = base + fallback.PATH if self.fallback else None
        twiml = stream_twiml(websocket_url(base, "/media-stream"), parameters, action)
        return web.Response(text=twiml, content_type="text/xml")

    async def stream_ended(self, request: web.Request) -> web.Response:
        """Twilio's request once a stream ends (<Connect action>): a person, or the end of the call."""
        params = await self._signed_params(request)
        if params is None or self.fallback is None:
            return web.Response(status=403 if params is None else 404, text="no\n")
        twiml = self.fallback.twiml_after_stream(params.get("CallSid", ""))
        return web.Response(text=twiml, content_type="text/xml")

    async def healthz(self, request: web.Request) -> web.Response:
        status = 503 if self.draining else 200
        return web.json_response(
            {
                "status": "draining" if self.draining else "ok",
                "calls": len(self.sessions),
                "pid": os.getpid(),
            },
            status=status,
        )

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def media_stream(self, request: WSUpgradeRequest) -> CallSocket | WSUpgradeResponseWithListener:
        """Twilio's websocket upgrade (picows asks, before it answers): a call's socket, or a refusal."""
        path = request.path.split(b"?", 1)[0].decode("ascii", "replace")
        host = request.headers.get("Host", "")
        base = (self.settings.public_url or f"http://{host}").rstrip("/")
        signature = request.headers.get("X-Twilio-Signature")
        if not self.signatures.valid(websocket_url(base, path), {}, signature):
            log.warning("rejected /media-stream: bad or missing X-Twilio-Signature")
            return refusal(403, "invalid signature")
        if self.draining:
            return refusal(503, "draining")
        if self.full:
            metrics.CALLS_REFUSED.labels("capacity").inc()
            return refusal(503, "at capacity")
        session = CallSession(
            self.settings,
            self.tokens if self.settings.requires_stream_token else None,
            self.app_factory(),
            clock=self.clock,
            writer=self.writer,
            time_scale=self.time_scale,
            fallback=self.fallback,
            began=self.sessions.add,
            finished=self._call_finished,
        )
        return session.twilio_socket()

    def _call_finished(self, session: CallSession, report: CallReport | None) -> None:
        self.sessions.discard(session)
        if report is not None:
            self.finished.append(report)


def refusal(status: int, text: str) -> WSUpgradeResponseWithListener:
    return WSUpgradeResponseWithListener(
        WSUpgradeResponse.create_error_response(status, f"{text}\n".encode()), None
    )
