"""The tutorial bridge pattern as a server process: the baseline of `loadtest` and the density benchmark.

`python -m bridge.load.tutorial_relay PORT REALTIME_BASE_URL` serves /media-stream like the official
Twilio + Realtime samples: every message parsed with json, every delta forwarded, clear and a
clock-estimated truncate on speech_started, no response.cancel, no gate.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

KEY_HEADER = {"Authorization": "Bearer k"}
SESSION = {
    "type": "realtime",
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 600, "interrupt_response": True},
        },
        "output": {"format": {"type": "audio/pcmu"}},
    },
}


class TutorialRelay:
    def __init__(self, realtime_base: str) -> None:
        self.realtime_base = realtime_base

    async def handle(self, twilio: ServerConnection) -> None:
        async with connect(
            f"{self.realtime_base}/realtime?model=gpt-realtime", additional_headers=KEY_HEADER
        ) as rt:
            await rt.send(json.dumps({"type": "session.update", "session": SESSION}))
            await rt.send(json.dumps({"type": "response.create"}))
            state: dict = {"sid": None, "item": None, "started": None}
            await asyncio.gather(
                self.from_twilio(twilio, rt, state),
                self.from_realtime(twilio, rt, state),
                return_exceptions=True,
            )

    async def from_twilio(self, twilio, rt, state) -> None:
        async for raw in twilio:
            msg = json.loads(raw)
            if msg["event"] == "start":
                state["sid"] = msg["start"]["streamSid"]
            elif msg["event"] == "media":
                await rt.send(
                    json.dumps({"type": "input_audio_buffer.append", "audio": msg["media"]["payload"]})
                )
            elif msg["event"] == "stop":
                await rt.close()
                return

    async def from_realtime(self, twilio, rt, state) -> None:
        async for raw in rt:
            event = json.loads(raw)
            if event["type"] == "response.output_audio.delta" and state["sid"]:
                if state["item"] != event["item_id"]:
                    state["item"], state["started"] = event["item_id"], time.monotonic()
                await twilio.send(
                    json.dumps(
                        {"event": "media", "streamSid": state["sid"], "media": {"payload": event["delta"]}}
                    )
                )
            elif event["type"] == "input_audio_buffer.speech_started" and state["item"]:
                elapsed = int((time.monotonic() - state["started"]) * 1000)
                await rt.send(
                    json.dumps(
                        {
                            "type": "conversation.item.truncate",
                            "item_id": state["item"],
                            "content_index": 0,
                            "audio_end_ms": elapsed,
                        }
                    )
                )
                await twilio.send(json.dumps({"event": "clear", "streamSid": state["sid"]}))
                state["item"] = None


async def main(port: int, realtime_base: str) -> None:
    async with serve(TutorialRelay(realtime_base).handle, "127.0.0.1", port):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
