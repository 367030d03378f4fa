"""The call's two websockets as picows listeners: whole messages in by callback, nothing else.

picows hands over frames; `Messages` joins a fragmented message and enforces the size limit (neither
Twilio nor OpenAI fragments, a hostile peer may). The listeners only translate: what a message means is
the Call's business, what to do about a socket's end the session's.
"""

from __future__ import annotations

from collections.abc import Callable

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

NORMAL_CLOSE = frozenset({WSCloseCode.OK, WSCloseCode.GOING_AWAY})
TEXT, BINARY = WSMsgType.TEXT, WSMsgType.BINARY


class MessageTooBig(Exception):
    pass


class Messages:
    """Frames in, whole text or binary messages out, each at most `limit` bytes."""

    __slots__ = ("limit", "parts", "size")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] | None = None  # a fragmented message in progress
        self.size = 0

    def feed(self, frame: WSFrame) -> bytes | None:
        kind = frame.msg_type
        if kind is not WSMsgType.TEXT and kind is not WSMsgType.BINARY:
            if kind is not WSMsgType.CONTINUATION or self.parts is None:
                return None
        elif self.parts is not None:
            raise MessageTooBig("a new message began inside a fragmented one")
        self.size = (self.size if self.parts is not None else 0) + frame.payload_size
        if self.size > self.limit:
            self.parts = None
            raise MessageTooBig(f"a message over {self.limit} bytes")
        payload = frame.get_payload_as_bytes()
        if frame.fin:
            if self.parts is None:
                return payload
            self.parts.append(payload)
            whole, self.parts = b"".join(self.parts), None
            return whole
        if self.parts is None:
            self.parts = []
        self.parts.append(payload)
        return None


def answered_close(transport: WSTransport, frame: WSFrame) -> bool:
    """A close frame from the peer: answered (unless ours went first) and the socket let go."""
    if frame.msg_type is not WSMsgType.CLOSE:
        return False
    if not transport.is_close_frame_sent:
        transport.send_close(frame.get_close_code())
    transport.disconnect()
    return True


def close_reason(transport: WSTransport) -> tuple[str, str | None]:
    """How a socket ended: what the peer said, and the protocol error we closed it for (if any)."""
    handshake = transport.close_handshake
    received = handshake.recv if handshake else None
    sent = handshake.sent if handshake else None
    said = f"{received.code.value} {received.reason}".strip() if received else "no close frame"
    ours = sent if sent is not None and sent.code not in NORMAL_CLOSE else None
    return said, f"{ours.code.value} {ours.reason}".strip() if ours else None


class CallSocket(WSListener):  # type: ignore[misc]
    """One side of a call: a Twilio media stream (server side) or a Realtime session (client side)."""

    def __init__(
        self,
        limit: int,
        message: Callable[[bytes], None],
        failed: Callable[[str], None],
        closed: Callable[[str, str | None], None],
        paused: Callable[[bool], None] = lambda _: None,
        connected: Callable[[WSTransport], None] = lambda _: None,
    ) -> None:
        self.messages = Messages(limit)
        self.message, self.failed, self.closed, self.paused = message, failed, closed, paused
        self.connected = connected

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.connected(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if (
            (kind is TEXT or kind is BINARY)
            and frame.fin
            and self.messages.parts is None
            and frame.payload_size <= self.messages.limit
        ):  # a whole message in one frame, as Twilio and OpenAI send every one: no detour
            self.message(frame.get_payload_as_bytes())
            return
        if answered_close(transport, frame):
            return
        try:
            data = self.messages.feed(frame)
        except MessageTooBig as exc:
            self.failed(str(exc))
            transport.send_close(WSCloseCode.MESSAGE_TOO_BIG)
            transport.disconnect()
            return
        if data is not None:
            self.message(data)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed(*close_reason(transport))

    def pause_writing(self) -> None:
        self.paused(True)

    def resume_writing(self) -> None:
        self.paused(False)


def server_text_frames(texts: list[str]) -> bytes:
    """Text messages as a server sends them (RFC 6455 section 5.2: FIN, opcode 1, no mask), joined for
    one write: a media chunk and its mark leave in one system call."""
    out = bytearray()
    for text in texts:
        data = text.encode()
        size = len(data)
        if size < 126:
            out += bytes((0x81, size))
        elif size < 1 << 16:
            out += bytes((0x81, 126)) + size.to_bytes(2, "big")
        else:
            out += bytes((0x81, 127)) + size.to_bytes(8, "big")
        out += data
    return bytes(out)
