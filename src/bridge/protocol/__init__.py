"""Message shapes of the two peers, parsed and built without any I/O."""

import binascii


class ProtocolError(ValueError):
    """A message that does not fit the protocol; the text says what is wrong."""


def strict_b64(text: str) -> bytes:
    """Canonical base64 only, the same on every Python (3.11's strict mode still took excess '=')."""
    if len(text) & 3:
        raise ValueError("base64 length is not a multiple of 4")
    return binascii.a2b_base64(text, strict_mode=True)
