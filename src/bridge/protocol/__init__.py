"""Message shapes of the two peers, parsed and built without any I/O."""


class ProtocolError(ValueError):
    """A message that does not fit the protocol; the text says what is wrong."""
