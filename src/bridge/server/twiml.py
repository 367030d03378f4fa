"""TwiML for the incoming-call webhook and Twilio request signatures, with the twilio package."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, Stream, VoiceResponse


def stream_twiml(stream_url: str, parameters: Mapping[str, str], action: str | None = None) -> str:
    """<Connect><Stream>: Twilio opens the media websocket; parameters reach us in `start`. With an
    action, Twilio asks that URL what to do once the stream ends."""
    response = VoiceResponse()
    connect = Connect(action=action) if action else Connect()
    stream = Stream(url=stream_url)
    for name, value in parameters.items():
        if value:
            stream.parameter(name=name, value=value)
    connect.append(stream)
    response.append(connect)
    return str(response)


def busy_twiml(message: str, voice: str, language: str) -> str:
    """What a caller hears when the server is full: a polite sentence, then the call ends."""
    response = VoiceResponse()
    response.say(message, voice=voice, language=language)
    response.hangup()
    return str(response)


def websocket_url(http_url: str, path: str) -> str:
    """wss://host/path for https://host (ws:// for plain http, as in local simulations)."""
    parts = urlsplit(http_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class SignatureCheck:
    """Checks X-Twilio-Signature when an auth token is configured."""

    def __init__(self, auth_token: str | None) -> None:
        self.validator = RequestValidator(auth_token) if auth_token else None

    @property
    def enabled(self) -> bool:
        return self.validator is not None

    def valid(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        if self.validator is None:
            return True
        return bool(signature) and self.validator.validate(url, dict(params), signature)
