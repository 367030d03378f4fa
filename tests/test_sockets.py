"""The picows side of the server: whole messages from frames, one port for HTTP and the media socket."""

from __future__ import annotations

import asyncio
import gc
import weakref

import aiohttp
import pytest
from picows import WSMsgType
from picows.picows import _make_test_ws_frame
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from bridge.server.front_door import is_media_request
from bridge.server.sockets import Messages, MessageTooBig, server_text_frames
from test_server import bridge_server, hang_up, media, run, stack, start, wait_for

TEXT, BINARY, MORE = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION


def frame(kind: WSMsgType, payload: bytes, fin: bool = True):
    return _make_test_ws_frame(kind, payload, fin, False)


def test_a_whole_frame_is_a_message_and_control_frames_are_not():
    messages = Messages(100)
    assert messages.feed(frame(TEXT, b'{"a":1}')) == b'{"a":1}'
    assert messages.feed(frame(BINARY, b"\x00\xff")) == b"\x00\xff"
    assert messages.feed(frame(WSMsgType.PING, b"")) is None
    assert messages.feed(frame(MORE, b"stray")) is None  # a continuation of nothing


def test_fragments_are_joined_in_order():
    messages = Messages(100)
    assert messages.feed(frame(TEXT, b'{"event":', fin=False)) is None
    assert messages.feed(frame(WSMsgType.PING, b"")) is None  # control frames may come in between
    assert messages.feed(frame(MORE, b'"stop"', fin=False)) is None
    assert messages.feed(frame(MORE, b"}")) == b'{"event":"stop"}'
    assert messages.feed(frame(TEXT, b"next")) == b"next"


def test_the_limit_counts_every_fragment_of_a_message():
    messages = Messages(10)
    assert messages.feed(frame(TEXT, b"x" * 10)) == b"x" * 10
    messages.feed(frame(TEXT, b"x" * 6, fin=False))
    with pytest.raises(MessageTooBig):
        messages.feed(frame(MORE, b"x" * 5))


def test_a_new_message_inside_a_fragmented_one_is_an_error():
    messages = Messages(100)
    messages.feed(frame(TEXT, b"a", fin=False))
    with pytest.raises(MessageTooBig, match="inside a fragmented"):
        messages.feed(frame(TEXT, b"b"))


@pytest.mark.parametrize(
    ("line", "media_socket"),
    [
        (b"GET /media-stream HTTP/1.1", True),
        (b"GET /media-stream?x=1 HTTP/1.1", True),
        (b"POST /media-stream HTTP/1.1", False),
        (b"GET /media-streams HTTP/1.1", False),
        (b"GET /healthz HTTP/1.1", False),
        (b"GET /media-stream", False),
    ],
)
def test_only_a_get_of_the_media_path_goes_to_the_websocket(line, media_socket):
    assert is_media_request(line) is media_socket


def test_one_port_serves_http_the_media_socket_and_refuses_the_rest():
    async def go():
        async with stack() as (sim, server, port, _sc):
            async with aiohttp.ClientSession() as http:
                for _ in range(2):  # two requests on one keep-alive connection
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        assert r.status == 200
                async with http.post(f"http://127.0.0.1:{port}/media-stream") as r:
                    assert r.status == 404  # no such page: only a GET upgrades
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"G" * 9000)  # no request line ever ends
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing served
            writer.close()
            async with connect(f"ws://127.0.0.1:{port}/media-stream") as ws:
                await ws.send(start())
                await ws.send(list(_fragments(media("MZtest"))))  # one message, three frames
                for _ in range(4):
                    await ws.send(media("MZtest"))
                await wait_for(lambda: sim.sessions and len(sim.sessions[0].input_audio) >= 800)
                report = await hang_up(ws, server)
            assert report.stats.malformed_twilio == 0 and report.ended == "caller hung up"

    run(go())


def _fragments(text: str) -> list[str]:
    third = len(text) // 3
    return [text[:third], text[third : 2 * third], text[2 * third :]]


def test_an_oversized_realtime_message_ends_the_call_with_the_reason():
    async def too_big(ws: ServerConnection) -> None:
        await ws.send("x" * 5000)
        await asyncio.sleep(10)

    async def go():
        async with serve(too_big, "127.0.0.1", 0, compression=None) as realtime:
            rt_port = realtime.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            server = bridge_server(f"ws://127.0.0.1:{rt_port}/v1", realtime_max_message_bytes=4096)
            port = await server.start()
            try:
                async with connect(f"ws://127.0.0.1:{port}/media-stream") as ws:
                    await ws.send(start())
                    await wait_for(lambda: server.finished)
                ended = server.finished[-1].ended
                assert ended.startswith("realtime connection lost") and "4096" in ended
            finally:
                await server.stop(0)

    run(go())


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_joined_frames_parse_as_the_same_messages(size):
    texts = ["x" * size, '{"event":"mark"}', "é" * (size // 2)]
    reader = StreamReader()
    reader.feed_data(server_text_frames(texts))
    reader.feed_eof()
    for text in texts:
        parser = Frame.parse(reader.read_exact, mask=False)
        with pytest.raises(StopIteration) as done:
            next(parser)
        frame = done.value.value
        assert frame.fin and frame.opcode is Opcode.TEXT and frame.data.decode() == text
    assert reader.at_eof()


def test_an_ended_call_is_freed_without_waiting_for_the_garbage_collector():
    async def go():
        async with (
            stack() as (_sim, server, port, _sc),
            connect(f"ws://127.0.0.1:{port}/media-stream") as ws,
        ):
            await ws.send(start())
            await wait_for(lambda: server.sessions)
            session = weakref.ref(next(iter(server.sessions)))
            gc.disable()  # from here only reference counting frees anything
            try:
                await hang_up(ws, server)
                await asyncio.sleep(0.2)
                assert session() is None
            finally:
                gc.enable()

    run(go())
