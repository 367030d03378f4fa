"""Scaled time for the simulators: scenario milliseconds on a real clock that may run faster."""

from __future__ import annotations

import asyncio
import time


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
        await self.sleep_ms(target_ms - self.now_ms())
