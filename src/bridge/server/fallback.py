"""When the model is gone and the profile names a fallback number, the caller is handed to a person.

The stream's `<Connect action="…/stream-ended">` makes Twilio ask what to do once the stream closes: for a
call whose model was gone, `<Say>` a short sentence and `<Dial>` the fallback number; for any other call,
`<Hangup/>` (what Twilio does anyway at the end of the TwiML).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from twilio.twiml.voice_response import VoiceResponse

if TYPE_CHECKING:
    from bridge.server.settings import Settings

PATH = "/stream-ended"
REMEMBERED = 10_000  # calls awaiting Twilio's request, oldest forgotten first (the request comes at once)


class Fallback:
    def __init__(self, number: str, message: str, voice: str, language: str) -> None:
        self.number, self.message, self.voice, self.language = number, message, voice, language
        self._handed_over: OrderedDict[str, None] = OrderedDict()

    def hand_over(self, call_sid: str) -> None:
        """This call's stream ends because the model is gone: the next request for it dials a person."""
        self._handed_over[call_sid] = None
        while len(self._handed_over) > REMEMBERED:
            self._handed_over.popitem(last=False)

    def twiml_after_stream(self, call_sid: str) -> str:
        response = VoiceResponse()
        if self._handed_over.pop(call_sid, "no") is None:
            response.say(self.message, voice=self.voice, language=self.language)
            response.dial(self.number)
        else:
            response.hangup()
        return str(response)


def for_settings(s: Settings) -> Fallback | None:
    if not s.fallback_number:
        return None
    return Fallback(s.fallback_number, s.transfer_message, s.busy_voice, s.busy_language)
