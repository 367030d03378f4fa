"""Scaled time for the simulators: scenario milliseconds on a real clock that may run faster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


class ScaledClock:
    """`time_scale` 1.0 is real time; 0.25 plays a scenario four times faster."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = time_scale
        self._t0 = time.monotonic()

    def now_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000.0 / self.time_scale

    async def sleep_ms(self, ms: float) -> None:
        await asyncio.sleep(max(0.0, ms) * self.time_scale / 1000.0)

    async def sleep_until_ms(self, target_ms: float) -> None:
        """Returns at `target_ms` or later, never before. An event loop may wake a timer early (uvloop's
        count whole ms: up to ~1 ms); a peer that acted before its time would then stamp what it did
        with a time still to come, out of order with what the other peer did meanwhile (a frame the
        caller played before a `clear` counted after it)."""
        while (left := target_ms - self.now_ms()) > 0:
            await self.sleep_ms(left)


class DelayLine:
    """Delivers items in order, each `delay_ms` (scenario time) after it was put: a network leg or a
    server's reporting delay. With no delay, `put` delivers at once."""

    def __init__(
        self, clock: ScaledClock, delay_ms: float, deliver: Callable[[Any], Awaitable[None]]
    ) -> None:
        self.clock, self.delay_ms, self.deliver = clock, delay_ms, deliver
        self._queue: asyncio.Queue[tuple[float, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def put(self, item: Any) -> None:
        if self.delay_ms <= 0:
            await self.deliver(item)
            return
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        self._queue.put_nowait((self.clock.now_ms() + self.delay_ms, item))

    async def _run(self) -> None:
        while True:
            due, item = await self._queue.get()
            await self.clock.sleep_until_ms(due)
            await self.deliver(item)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
