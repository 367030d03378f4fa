"""The tutorial relay's logic on picows sockets and uvloop: the cost of forwarding alone, a floor.

`python -m bridge.load.picows_relay PORT REALTIME_BASE_URL`: the same messages as `tutorial_relay`
(every message parsed with json, every frame appended, every delta forwarded, clear and a clock-estimated
truncate on speech_started), with callbacks and writes that never wait. `loadtest --floor` ramps it in
the same run: what any bridge pays per call-second on this machine before it does anything of its own.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect, ws_create_server

from bridge.load.tutorial_relay import KEY_HEADER, SESSION
from bridge.server.sockets import answered_close

TEXT = WSMsgType.TEXT


def send(transport: WSTransport | None, message: dict) -> None:
    if transport is not None and not transport.is_disconnected:
        transport.send(TEXT, json.dumps(message))


class RealtimeSide(WSListener):  # type: ignore[misc]
    def __init__(self, call: TwilioSide) -> None:
        self.call = call

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not TEXT:
            return
        event = json.loads(frame.get_payload_as_bytes())
        call = self.call
        if event["type"] == "response.output_audio.delta" and call.sid:
            if call.item != event["item_id"]:
                call.item, call.started = event["item_id"], time.monotonic()
            media = {"event": "media", "streamSid": call.sid, "media": {"payload": event["delta"]}}
            send(call.twilio, media)
        elif event["type"] == "input_audio_buffer.speech_started" and call.item:
            elapsed = int((time.monotonic() - call.started) * 1000)
            truncate = {"item_id": call.item, "content_index": 0, "audio_end_ms": elapsed}
            send(transport, {"type": "conversation.item.truncate", **truncate})
            send(call.twilio, {"event": "clear", "streamSid": call.sid})
            call.item = None


class TwilioSide(WSListener):  # type: ignore[misc]
    def __init__(self, realtime_base: str) -> None:
        self.realtime_base = realtime_base
        self.sid: str | None = None
        self.item: str | None = None
        self.started = 0.0
        self.twilio: WSTransport | None = None
        self.realtime: WSTransport | None = None
        self.waiting: list[dict] = []  # appends before the Realtime socket opened

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.twilio = transport
        asyncio.get_running_loop().create_task(self.open_realtime())

    async def open_realtime(self) -> None:
        url = f"{self.realtime_base}/realtime?model=gpt-realtime"
        realtime, _ = await ws_connect(lambda: RealtimeSide(self), url, extra_headers=KEY_HEADER)
        send(realtime, {"type": "session.update", "session": SESSION})
        send(realtime, {"type": "response.create"})
        for message in self.waiting:
            send(realtime, message)
        self.realtime, self.waiting = realtime, []

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if answered_close(transport, frame) or frame.msg_type is not TEXT:
            return
        msg = json.loads(frame.get_payload_as_bytes())
        if msg["event"] == "start":
            self.sid = msg["start"]["streamSid"]
        elif msg["event"] == "media":
            append = {"type": "input_audio_buffer.append", "audio": msg["media"]["payload"]}
            if self.realtime is None:
                self.waiting.append(append)
            else:
                send(self.realtime, append)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.realtime is not None:
            self.realtime.disconnect()


async def main(port: int, realtime_base: str) -> None:
    await ws_create_server(lambda _request: TwilioSide(realtime_base), "127.0.0.1", port)
    await asyncio.Future()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), sys.argv[2]))
