from __future__ import annotations

import json

from bridge.core.call import Call
from bridge.core.config import CallConfig, LocalDetection


def ready_call(local: bool = False) -> Call:
    """A Call with its session up and a Twilio stream started, actions drained (by default the
    server-VAD hard barge-in alone; `local` turns pause-then-decide on)."""
    config = CallConfig(greet_first=False, lead_ms=10**9, local=LocalDetection(enabled=local))
    call = Call(config, now_ms=0.0)
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
