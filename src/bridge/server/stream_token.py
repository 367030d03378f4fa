"""A per-call token: /incoming-call signs the CallSid, Twilio hands it back in the stream's `start`.

X-Twilio-Signature on the websocket handshake covers only the URL, so a captured one can be replayed for
ever. The token binds the stream to the call Twilio announced; a replayed or guessed socket fails the
check on `start` and is closed before any Realtime session is opened.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PARAMETER = "fastgate_token"


class StreamTokens:
    def __init__(self, secret: str | None) -> None:
        # Without a configured secret, one per process: tokens then hold for this process only.
        self.key = (secret or secrets.token_hex(32)).encode()

    def issue(self, call_sid: str) -> str:
        return hmac.new(self.key, call_sid.encode(), hashlib.sha256).hexdigest()[:32]

    def valid(self, call_sid: str | None, token: str | None) -> bool:
        if not call_sid or not token:
            return False
        return hmac.compare_digest(self.issue(call_sid), token)
