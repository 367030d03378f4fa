"""One port, two protocols: Twilio's media websocket on picows, every other request on aiohttp.

Each connection's first request line decides. `GET /media-stream` goes to a picows websocket protocol
(callbacks, no task per message: the call's hot path); anything else (the TwiML webhook, /healthz,
/metrics) to aiohttp's HTTP handler. A keep-alive HTTP connection stays with aiohttp, so a websocket
upgrade must open its own connection, as Twilio's do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from picows import WSAutoPingStrategy
from picows.picows import WSProtocol  # type: ignore[attr-defined]

MEDIA_PATH = b"/media-stream"
MAX_REQUEST_LINE = 8192


def is_media_request(request_line: bytes) -> bool:
    parts = request_line.split(b" ")
    return len(parts) == 3 and parts[0] == b"GET" and parts[1].split(b"?", 1)[0] == MEDIA_PATH


def media_protocol_factory(
    listener_factory: Callable[[Any], Any], *, max_frame_size: int, handshake_timeout: float
) -> Callable[[], asyncio.BaseProtocol]:
    """What `picows.ws_create_server` builds for each connection (its arguments in its order; picows
    pinned below 3 in pyproject.toml, and every end-to-end test goes through it)."""
    logger = logging.getLogger("picows.server")

    def protocol() -> asyncio.BaseProtocol:
        return WSProtocol(
            None,  # host and port: a client's
            None,  # path: a client's
            False,  # server side
            listener_factory,
            logger,
            True,  # disconnect when a listener callback raises
            handshake_timeout,
            False,  # no automatic pings: Twilio's stream has a message every 20 ms
            10.0,
            10.0,
            WSAutoPingStrategy.PING_WHEN_IDLE,
            True,  # answer pings
            max_frame_size,
            None,
            16 * 1024,
        )

    return protocol


class FrontDoor(asyncio.Protocol):
    """Reads a connection's request line, then hands the connection, bytes and all, to its protocol."""

    def __init__(
        self,
        media: Callable[[], asyncio.BaseProtocol],
        http: Callable[[], asyncio.BaseProtocol],
    ) -> None:
        self.media, self.http = media, http
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.received += data
        end = self.received.find(b"\r\n")
        if end < 0:
            if len(self.received) > MAX_REQUEST_LINE:
                self.transport.close()
            return
        protocol = (self.media if is_media_request(bytes(self.received[:end])) else self.http)()
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        hand_over(protocol, bytes(self.received))
        self.received.clear()

    def eof_received(self) -> bool | None:
        return False  # closed before a whole request line: nothing to serve


def hand_over(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view)))
            n = min(len(buffer), len(view))
            buffer[:n] = view[:n]
            protocol.buffer_updated(n)
            view = view[n:]
    elif isinstance(protocol, asyncio.Protocol):
        protocol.data_received(data)
