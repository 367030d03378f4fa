"""`fastgate-bridge sim caller` sends the headers and custom parameters it is given (a bridge that checks
X-Twilio-Signature or reads customParameters can be tested), and prints its log in time order."""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.server import ServerConnection, serve


def test_headers_and_custom_parameters_reach_the_bridge() -> None:
    seen: dict[str, object] = {}

    async def bridge(ws: ServerConnection) -> None:
        seen["signature"] = ws.request.headers.get("X-Twilio-Signature") if ws.request else None
        async for raw in ws:
            message = json.loads(raw)
            if message["event"] == "start":
                seen["custom"] = message["start"]["customParameters"]
                await ws.close()
                return

    async def go() -> str:
        async with serve(bridge, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bridge.cli",
                "sim",
                "caller",
                "--url",
                f"ws://127.0.0.1:{port}/media-stream",
                "--scenario",
                "noise-only",
                "--time-scale",
                "0.2",
                "--header",
                "X-Twilio-Signature: abc=",
                "--param",
                "business=locksmith",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
            return out.decode()

    out = asyncio.run(go())
    assert seen["signature"] == "abc="
    assert seen["custom"] == {"caller": "+972541234567", "business": "locksmith"}
    assert "call ended by" in out
