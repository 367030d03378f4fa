from __future__ import annotations

import json

from bridge.core.call import Call
from bridge.core.config import CallConfig


def ready_call() -> Call:
    """A Call with its session up and a Twilio stream started, actions drained."""
    call = Call(CallConfig(greet_first=False, lead_ms=10**9), now_ms=0.0)
    call.realtime_connected(0.0)
    call.receive_realtime(json.dumps({"type": "session.updated", "session": {}}), 0.0)
    call.receive_twilio(
        json.dumps(
            {
                "event": "start",
                "streamSid": "MZ1",
                "start": {"streamSid": "MZ1", "callSid": "CA1", "customParameters": {}},
            }
        ),
        0.0,
    )
    call.actions()
    return call
