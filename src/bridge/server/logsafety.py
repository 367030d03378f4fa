"""What reaches the log output: never a secret, never a forged line, phone numbers masked unless asked.

A filter on the root handlers, so it covers every library's records too (at DEBUG the socket library
logs its handshake's headers, `Authorization: Bearer …` included).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from bridge.core.actions import one_line

BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}")
PHONE = re.compile(r"(?<![\w.])(\+\d|0)([\d\- ]{5,})(\d{2})(?![\w.])")  # +972…, 05…


def mask_phone(match: re.Match[str]) -> str:
    if sum(ch.isdigit() for ch in match.group(0)) < 9:  # too short for a phone number
        return match.group(0)
    middle = re.sub(r"\d", "•", match.group(2))
    return f"{match.group(1)}{middle}{match.group(3)}"


class SafeLogFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str | None] = (), *, show_numbers: bool = False) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self.show_numbers = show_numbers

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = OPENAI_KEY.sub("sk-***", BEARER.sub(r"\1***", text))
        if not self.show_numbers:
            text = PHONE.sub(mask_phone, text)
        return one_line(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: keep the raw format
            message = str(record.msg)
        record.msg, record.args = self.clean(message), None
        return True


def install(secrets: Iterable[str | None] = (), *, show_numbers: bool = False) -> SafeLogFilter:
    """Put the filter on every handler of the root logger (call after logging.basicConfig); called
    again (serve, once its settings are read), it replaces the one before."""
    safe = SafeLogFilter(secrets, show_numbers=show_numbers)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, SafeLogFilter)]:
            handler.removeFilter(old)
        handler.addFilter(safe)
    return safe
