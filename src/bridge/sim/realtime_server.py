"""A Realtime API server that speaks the GA event protocol over a websocket, for tests and demos.

It runs server VAD on the audio it is sent, answers with the scenario's replies as base64
audio deltas (faster than real time, like the real service), honours response.cancel with
a few deltas already in flight, validates conversation.item.truncate, and records every
event both ways. Event names and fields follow openai.types.realtime; clients that send
the `OpenAI-Beta: realtime=v1` header get the beta names.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

import fastgate
from bridge.sim.beta import BETA_FORMATS, to_beta
from bridge.sim.clock import DelayLine, ScaledClock
from bridge.sim.scenario import Reply, Scenario, audio_ms
from bridge.sim.vad import ServerVad, VadEvent

log = logging.getLogger("fastgate.sim.realtime")

FORMATS = {"audio/pcmu", "audio/pcma"}
MAX_MESSAGE_BYTES = 15 * 1024 * 1024


@dataclass
class Recorded:
    t_ms: float
    direction: str  # "in" (client -> server) or "out"
    event: dict[str, Any]


@dataclass
class SimResponse:
    id: str
    reply: Reply | None
    with_tools: bool = True  # as the real API does, a response that calls tools ends there;
    with_audio: bool = True  # the words come in the response the client asks for after the outputs
    item_id: str | None = None
    cancel_reason: str | None = None
    task: asyncio.Task[None] | None = None


@dataclass
class SimSession:
    """One websocket connection: one Realtime session and everything that crossed it."""

    clock: ScaledClock
    beta: bool = False
    record: list[Recorded] = field(default_factory=list)
    input_audio: bytearray = field(default_factory=bytearray)
    config: dict[str, Any] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    truncations: list[tuple[str, int]] = field(default_factory=list)
    function_outputs: list[dict[str, Any]] = field(default_factory=list)
    responses: list[SimResponse] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    closed_at: float | None = None  # scenario ms

    def events(self, direction: str, type_: str | None = None) -> list[dict[str, Any]]:
        return [r.event for r in self.record if r.direction == direction and type_ in (None, r.event["type"])]

    def errors(self) -> list[dict[str, Any]]:
        return [e["error"] for e in self.events("out", "error")]


class RealtimeSimulator:
    """`async with RealtimeSimulator(scenario) as sim:` serves ws://host:port/v1/realtime."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        api_key: str | None = None,
        clock: ScaledClock | None = None,
    ) -> None:
        self.scenario = scenario
        self.host, self.port = host, port
        self.time_scale = time_scale
        self.clock = clock  # shared with the other peers in a simulation; per session otherwise
        self.api_key = api_key  # None accepts any bearer token, but one must be sent
        self.sessions: list[SimSession] = []
        self._server: Server | None = None
        self.session_started = asyncio.Event()

    @property
    def base_url(self) -> str:
        """What a client passes as websocket_base_url (the SDK appends /realtime)."""
        return f"ws://{self.host}:{self.port}/v1"

    async def __aenter__(self) -> RealtimeSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port

    async def drop_connections(self, code: int = 1011, reason: str = "simulated server failure") -> None:
        """Close every session's socket from the server side, as a failing service would."""
        if self._server is not None:
            for connection in list(self._server.connections):
                await connection.close(code, reason)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if not request.path.startswith("/v1/realtime"):
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or (self.api_key is not None and auth != f"Bearer {self.api_key}"):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Missing or invalid bearer token\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        beta = "realtime=v1" in (ws.request.headers.get("OpenAI-Beta", "") if ws.request else "")
        session = SimSession(self.clock or ScaledClock(self.time_scale), beta=beta)
        self.sessions.append(session)
        self.session_started.set()
        await _Connection(ws, session, self.scenario).run()


SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}


def effective_turn_detection(update: Any) -> Any:
    """What session.updated reports: a partial turn_detection filled in with the defaults of its type."""
    if not isinstance(update, dict):
        return update
    defaults = SEMANTIC_VAD_DEFAULTS if update.get("type") == "semantic_vad" else SERVER_VAD_DEFAULTS
    return {**defaults, **update}


class _Connection:
    """The protocol logic for one session."""

    def __init__(self, ws: ServerConnection, session: SimSession, scenario: Scenario | None) -> None:
        self.ws, self.s, self.scenario = ws, session, scenario
        rt = scenario.realtime if scenario else None
        self.delta_ms = rt.delta_ms if rt else 100
        self.speed = rt.speed if rt else 4.0
        self.inflight = rt.inflight_deltas if rt else 2
        self.first_delta_ms = rt.first_delta_ms if rt else 120
        self.vad_rms = rt.vad_rms if rt else 500
        clock = session.clock
        self.inbound = DelayLine(clock, rt.network_ms if rt else 0, self.dispatch)
        self.outbound = DelayLine(clock, rt.network_ms if rt else 0, self._transmit)
        self.vad_reports = DelayLine(clock, rt.vad_delay_ms if rt else 0, self._vad_event)
        self.replies = iter(scenario.replies if scenario else ())
        self.transcripts = iter(
            [u.transcript if u.speech else "" for u in scenario.utterances] if scenario else []
        )
        self.ids = itertools.count(1)
        self.active: SimResponse | None = None
        self.after_tools: Reply | None = None  # a reply whose tool calls went out, its words still due
        self.unstarted: Reply | None = None  # cancelled before any output: the next response plays it
        self.replay_unstarted = rt.replay_unstarted if rt else True
        self.max_session_ms = (rt.max_session_s if rt else 3600.0) * 1000.0
        self.network_ms = rt.network_ms if rt else 0
        self.last_item_id: str | None = None
        self.pending_user_item: str | None = None
        self.vad: ServerVad | None = None
        self.uncommitted_bytes = 0  # appended since the last commit or clear
        self.session_id = f"sess_{secrets.token_hex(8)}"
        self.s.config = {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.session_id,
            "model": "gpt-realtime",
            "output_modalities": ["audio"],
            "instructions": "",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "turn_detection": dict(SERVER_VAD_DEFAULTS),
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
            },
        }

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids):04d}{secrets.token_hex(4)}"

    async def send(self, event: dict[str, Any]) -> None:
        event = {"event_id": self._id("event"), **event}
        if self.s.beta:
            beta = to_beta(event)
            if beta is None:
                return
            event = beta
        logged = (
            event
            if "delta" not in event or "audio" not in event["type"]
            else {**event, "delta": f"<{len(event['delta'])} base64 chars>"}
        )
        self.s.record.append(Recorded(self.s.clock.now_ms(), "out", logged))
        await self.outbound.put(json.dumps(event, ensure_ascii=False))

    async def _transmit(self, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(text)

    async def error(
        self,
        code: str,
        message: str,
        client_event: dict[str, Any] | None = None,
        type_: str = "invalid_request_error",
        param: str | None = None,
    ) -> None:
        await self.send(
            {
                "type": "error",
                "error": {
                    "type": type_,
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": (client_event or {}).get("event_id"),
                },
            }
        )

    async def run(self) -> None:
        expires_at = int(time.time() + self.max_session_ms * self.s.clock.time_scale / 1000.0)
        await self.send({"type": "session.created", "session": {**self.s.config, "expires_at": expires_at}})
        cap = asyncio.create_task(self._expire())
        try:
            async for raw in self.ws:
                await self.inbound.put(raw)
        except ConnectionClosed:
            pass
        finally:
            cap.cancel()
            if self.active and self.active.task:
                self.active.task.cancel()
            for line in (self.inbound, self.outbound, self.vad_reports):
                await line.close()
            self.s.closed_at = self.s.clock.now_ms()
            self.s.closed.set()

    async def _expire(self) -> None:
        """The session cap, as OpenAI enforces it: an error naming the limit, then the socket closes."""
        await self.s.clock.sleep_ms(self.max_session_ms)
        minutes = f"{self.max_session_ms / 60000:g}"
        await self.error("session_expired", f"Your session hit the maximum duration of {minutes} minutes.")
        await self.s.clock.sleep_ms(self.network_ms + 20)  # the error is on the wire before the close
        await self.ws.close(1000, "session expired")

    async def dispatch(self, raw: str | bytes) -> None:
        try:
            event = json.loads(raw)
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise ValueError("an event is a JSON object with a string `type`")
        except ValueError as exc:
            self.s.record.append(
                Recorded(self.s.clock.now_ms(), "in", {"type": "<invalid>", "raw": str(raw)[:200]})
            )
            await self.error("invalid_json", f"Invalid event: {exc}")
            return
        kind = event["type"]
        logged = (
            event
            if kind != "input_audio_buffer.append"
            else {**event, "audio": f"<{len(str(event.get('audio', '')))} base64 chars>"}
        )
        self.s.record.append(Recorded(self.s.clock.now_ms(), "in", logged))
        handler = getattr(self, "on_" + kind.replace(".", "_"), None)
        if handler is None:
            await self.error(
                "unknown_event", f"Invalid value: '{kind}'. Unsupported event type.", event, param="type"
            )
            return
        await handler(event)

    # -- session ---------------------------------------------------------------------------------------
    async def on_session_update(self, event: dict[str, Any]) -> None:
        update = event.get("session")
        if not isinstance(update, dict):
            await self.error(
                "invalid_value", "Missing required parameter: 'session'.", event, param="session"
            )
            return
        audio = update.get("audio", {})
        inp, out = dict(audio.get("input", {})), dict(audio.get("output", {}))
        for beta_key, target in (("input_audio_format", inp), ("output_audio_format", out)):
            if beta_key in update:
                target["format"] = {"type": BETA_FORMATS.get(update[beta_key], update[beta_key])}
        if "input_audio_transcription" in update:  # beta shape
            inp["transcription"] = update["input_audio_transcription"]
        if "turn_detection" in update:  # beta shape
            inp["turn_detection"] = update["turn_detection"]
        if "turn_detection" in inp:
            inp["turn_detection"] = effective_turn_detection(inp["turn_detection"])
        for side in (inp, out):
            fmt = side.get("format")
            if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in FORMATS):
                await self.error(
                    "invalid_value",
                    f"Unsupported audio format {fmt!r} in this simulator: "
                    "only audio/pcmu and audio/pcma (8 kHz G.711).",
                    event,
                    param="session.audio",
                )
                return
        cfg = self.s.config
        cfg["audio"]["input"].update(inp)
        cfg["audio"]["output"].update(out)
        for key in ("instructions", "tools", "tool_choice", "output_modalities", "model"):
            if key in update:
                cfg[key] = update[key]
        if isinstance(update.get("modalities"), list):  # beta shape
            cfg["output_modalities"] = ["audio"] if "audio" in update["modalities"] else ["text"]
        if "voice" in update:
            cfg["audio"]["output"]["voice"] = update["voice"]
        td = cfg["audio"]["input"].get("turn_detection") or {}
        self.vad = (
            ServerVad(
                threshold=float(td.get("threshold", 0.5)),
                prefix_padding_ms=int(td.get("prefix_padding_ms", 300)),
                silence_duration_ms=int(td.get("silence_duration_ms", 200)),
                rms_at_half=self.vad_rms,
            )
            if td.get("type") in ("server_vad", "semantic_vad")
            else None
        )
        await self.send({"type": "session.updated", "session": cfg})

    def _turn_detection(self) -> dict[str, Any]:
        return self.s.config["audio"]["input"].get("turn_detection") or {}

    # -- input audio -----------------------------------------------------------------------------------
    async def on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        try:
            audio = base64.b64decode(event.get("audio", ""), validate=True)
        except (binascii.Error, TypeError, ValueError):
            await self.error(
                "invalid_value", "Invalid 'audio'. Expected base64-encoded audio.", event, param="audio"
            )
            return
        if self.s.config["audio"]["input"]["format"]["type"] == "audio/pcma":
            audio = fastgate.ulaw_encode(fastgate.alaw_decode(audio))
        self.s.input_audio += audio
        self.uncommitted_bytes += len(audio)
        if self.vad is None:
            return
        for vad_event in self.vad.push(audio):
            await self.vad_reports.put(vad_event)

    async def _vad_event(self, vad_event: VadEvent) -> None:
        if vad_event.kind == "started":
            await self.speech_started(vad_event.audio_ms)
        else:
            await self.speech_stopped(vad_event.audio_ms)

    async def on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        if self.uncommitted_bytes < 100 * 8:  # the API refuses a commit of less than 100 ms of audio
            ms = self.uncommitted_bytes // 8
            await self.error(
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {ms:.2f}ms of audio.",
                event,
            )
            return
        await self.commit(self._id("item"))

    async def on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self.uncommitted_bytes = 0
        if self.vad is not None:
            self.vad.clear()  # the speech in progress is gone: no speech_stopped, no commit, no answer
        self.pending_user_item = None
        await self.send({"type": "input_audio_buffer.cleared"})

    async def speech_started(self, audio_start_ms: int) -> None:
        self.pending_user_item = self._id("item")
        await self.send(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_start_ms,
                "item_id": self.pending_user_item,
            }
        )
        if self.active and self._turn_detection().get("interrupt_response", True):
            self.cancel(self.active, "turn_detected")

    async def speech_stopped(self, audio_end_ms: int) -> None:
        item_id = self.pending_user_item or self._id("item")
        self.pending_user_item = None
        await self.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": audio_end_ms, "item_id": item_id}
        )
        await self.commit(item_id)
        transcript = next(self.transcripts, "")
        self.s.items[item_id]["transcript"] = transcript
        if self.s.config["audio"]["input"].get("transcription"):
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": transcript,
                    "usage": {"type": "duration", "seconds": 1.0},
                }
            )
        if self._turn_detection().get("create_response", True):
            if self.active is None:
                await self.start_response()
            else:
                log.info("turn ended while %s is active: no automatic response", self.active.id)

    async def commit(self, item_id: str) -> None:
        self.uncommitted_bytes = 0
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": self.last_item_id,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.s.items[item_id] = {"role": "user", "item": item}
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": self.last_item_id, "item": item}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": self.last_item_id, "item": item}
        )
        self.last_item_id = item_id

    # -- conversation ----------------------------------------------------------------------------------
    async def on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in (
            "message",
            "function_call",
            "function_call_output",
        ):
            await self.error("invalid_value", "Invalid 'item'.", event, param="item")
            return
        if item["type"] == "function_call_output":
            if not any(i.get("call_id") == item.get("call_id") for i in self.s.items.values()):
                await self.error(
                    "invalid_value",
                    f"Tool call ID '{item.get('call_id')}' not found in conversation.",
                    event,
                    param="item.call_id",
                )
                return
            self.s.function_outputs.append(item)
        item = {
            "object": "realtime.item",
            "status": "completed",
            **item,
            "id": item.get("id") or self._id("item"),
        }
        self.s.items[item["id"]] = {"role": item.get("role", item["type"]), "item": item}
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": self.last_item_id, "item": item}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": self.last_item_id, "item": item}
        )
        self.last_item_id = item["id"]

    async def on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item_id, end_ms = event.get("item_id"), event.get("audio_end_ms")
        known = self.s.items.get(item_id) if isinstance(item_id, str) else None
        if known is None or known["role"] != "assistant":
            await self.error(
                "invalid_value",
                f"Item with item_id '{item_id}' not found or not an assistant message.",
                event,
                param="item_id",
            )
            return
        if not isinstance(end_ms, int) or end_ms < 0 or event.get("content_index", 0) != 0:
            await self.error(
                "invalid_value", "Invalid 'audio_end_ms' or 'content_index'.", event, param="audio_end_ms"
            )
            return
        produced = audio_ms(known["audio"])
        if end_ms > produced:
            await self.error(
                "invalid_value",
                f"Audio content of {produced}ms is already shorter than {end_ms}ms",
                event,
                param="audio_end_ms",
            )
            return
        known["truncated_ms"] = end_ms
        self.s.truncations.append((str(item_id), end_ms))
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": end_ms,
            }
        )

    async def on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item_id = str(event.get("item_id"))
        if self.s.items.pop(item_id, None) is None:
            await self.error(
                "invalid_value", f"Item with item_id '{item_id}' not found.", event, param="item_id"
            )
            return
        await self.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        item_id = str(event.get("item_id"))
        entry = self.s.items.get(item_id)
        if entry is None:
            await self.error(
                "invalid_value", f"Item with item_id '{item_id}' not found.", event, param="item_id"
            )
            return
        item = dict(entry["item"])
        if entry.get("transcript") is not None and item.get("role") == "user":
            item["content"] = [{"type": "input_audio", "transcript": entry["transcript"]}]
        await self.send({"type": "conversation.item.retrieved", "item": item})

    # -- responses -------------------------------------------------------------------------------------
    async def on_response_create(self, event: dict[str, Any]) -> None:
        params = event.get("response")
        if isinstance(params, dict) and params.get("conversation") == "none":
            await self.out_of_band(params)
            return
        if self.active is not None:
            await self.error(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
                event,
            )
            return
        await self.start_response()

    async def out_of_band(self, params: dict[str, Any]) -> None:
        """conversation: "none" runs beside any active response and adds nothing to the conversation.
        The simulator has no model to answer the request with, so it completes with no output."""
        response = {
            "id": self._id("resp"),
            "object": "realtime.response",
            "conversation_id": None,
            "status": "in_progress",
            "output": [],
            "output_modalities": params.get("output_modalities", ["audio"]),
            "metadata": params.get("metadata"),
        }
        await self.send({"type": "response.created", "response": response})
        done = {
            **response,
            "status": "completed",
            "usage": {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0},
        }
        await self.send({"type": "response.done", "response": done})

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.active is None or (wanted is not None and wanted != self.active.id):
            await self.error(
                "response_cancel_not_active", "Cancellation failed: no active response found.", event
            )
            return
        self.cancel(self.active, "client_cancelled")

    def cancel(self, response: SimResponse, reason: str) -> None:
        if response.cancel_reason is None:
            response.cancel_reason = reason

    async def start_response(self) -> None:
        if self.after_tools is not None:
            response = SimResponse(self._id("resp"), self.after_tools, with_tools=False)
            self.after_tools = None
        else:
            reply, self.unstarted = self.unstarted or next(self.replies, None), None
            declared = {t.get("name") for t in self.s.config.get("tools") or [] if isinstance(t, dict)}
            if reply is not None and reply.tool_calls and not {c.name for c in reply.tool_calls} <= declared:
                reply = Reply(reply.audio, reply.transcript)  # the real model calls only declared tools
            calls_tools = reply is not None and bool(reply.tool_calls)
            response = SimResponse(self._id("resp"), reply, with_audio=not calls_tools)
            if calls_tools and reply is not None and reply.audio:
                self.after_tools = reply
        self.active = response
        self.s.responses.append(response)
        await self.send(
            {
                "type": "response.created",
                "response": {
                    "id": response.id,
                    "object": "realtime.response",
                    "status": "in_progress",
                    "output": [],
                    "output_modalities": ["audio"],
                },
            }
        )
        response.task = asyncio.create_task(self.stream(response))

    async def stream(self, response: SimResponse) -> None:
        output: list[dict[str, Any]] = []
        clock = self.s.clock
        await clock.sleep_ms(self.first_delta_ms)
        reply = response.reply
        index = 0
        for call in reply.tool_calls if reply and response.with_tools else ():
            if response.cancel_reason:
                break
            output.append(await self.function_call(response, index, call.name, call.arguments))
            index += 1
        if reply is not None and reply.audio and response.with_audio and not response.cancel_reason:
            output.append(await self.audio_message(response, index, reply))
        status = "cancelled" if response.cancel_reason else "completed"
        if response.cancel_reason and not output and response.with_tools and self.replay_unstarted:
            self.unstarted = response.reply
            if self.after_tools is response.reply:
                self.after_tools = None
        details = {"type": "cancelled", "reason": response.cancel_reason} if response.cancel_reason else None
        self.active = None
        await self.send(
            {
                "type": "response.done",
                "response": {
                    "id": response.id,
                    "object": "realtime.response",
                    "status": status,
                    "status_details": details,
                    "output": output,
                    "output_modalities": ["audio"],
                    "usage": {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0},
                },
            }
        )

    async def function_call(
        self, response: SimResponse, index: int, name: str, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        item_id, call_id = self._id("item"), self._id("call")
        args = json.dumps(arguments, ensure_ascii=False)
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": call_id,
            "arguments": "",
        }
        self.s.items[item_id] = {"role": "function_call", "item": item, "call_id": call_id}
        base = {"response_id": response.id, "output_index": index}
        await self.send({"type": "response.output_item.added", **base, "item": item})
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": self.last_item_id, "item": item}
        )
        await self.send(
            {
                "type": "response.function_call_arguments.delta",
                **base,
                "item_id": item_id,
                "call_id": call_id,
                "delta": args,
            }
        )
        await self.send(
            {
                "type": "response.function_call_arguments.done",
                **base,
                "item_id": item_id,
                "call_id": call_id,
                "name": name,
                "arguments": args,
            }
        )
        done = {**item, "status": "completed", "arguments": args}
        self.s.items[item_id]["item"] = done
        await self.send({"type": "response.output_item.done", **base, "item": done})
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": self.last_item_id, "item": done}
        )
        self.last_item_id = item_id
        return done

    async def audio_message(self, response: SimResponse, index: int, reply: Reply) -> dict[str, Any]:
        item_id = response.item_id = self._id("item")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        record: dict[str, Any] = {
            "role": "assistant",
            "item": item,
            "audio": bytearray(),
            "transcript": reply.transcript,
        }
        self.s.items[item_id] = record
        base = {"response_id": response.id, "item_id": item_id, "output_index": index, "content_index": 0}
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response.id,
                "output_index": index,
                "item": item,
            }
        )
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": self.last_item_id, "item": item}
        )
        self.last_item_id = item_id
        await self.send(
            {"type": "response.content_part.added", **base, "part": {"type": "audio", "transcript": ""}}
        )
        chunk = self.delta_ms * 8
        chunks = [reply.audio[i : i + chunk] for i in range(0, len(reply.audio), chunk)]
        words = reply.transcript
        sent_chars = 0
        after_cancel = 0
        clock = self.s.clock
        started = clock.now_ms()
        for n, piece in enumerate(chunks, 1):
            if not response.cancel_reason:
                await clock.sleep_until_ms(started + (n - 1) * self.delta_ms / self.speed)
            if response.cancel_reason:
                if after_cancel >= self.inflight:
                    break
                after_cancel += 1  # already on the wire when the cancel arrived: no pacing
            record["audio"] += piece
            await self.send(
                {
                    "type": "response.output_audio.delta",
                    **base,
                    "delta": base64.b64encode(piece).decode("ascii"),
                }
            )
            upto = len(words) * n // len(chunks)
            if upto > sent_chars:
                await self.send(
                    {
                        "type": "response.output_audio_transcript.delta",
                        **base,
                        "delta": words[sent_chars:upto],
                    }
                )
                sent_chars = upto
        heard_text = words[:sent_chars]
        status = "incomplete" if response.cancel_reason else "completed"
        await self.send({"type": "response.output_audio.done", **base})  # cancelled ones end so too
        await self.send({"type": "response.output_audio_transcript.done", **base, "transcript": heard_text})
        part = {"type": "audio", "transcript": heard_text}
        await self.send({"type": "response.content_part.done", **base, "part": part})
        done = {**item, "status": status, "content": [{"type": "output_audio", "transcript": heard_text}]}
        record["item"] = done
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": index,
                "item": done,
            }
        )
        await self.send({"type": "conversation.item.done", "previous_item_id": None, "item": done})
        return done
