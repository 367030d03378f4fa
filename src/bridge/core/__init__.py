"""The sans-I/O call: wire messages and the time in; wire actions and application events out.

Nothing here imports asyncio, sockets, sqlite3, logging or time (a test keeps it so). The path of a
caller frame: `call.Call.receive_twilio` -> `inbound.CallerAudio` (the compiled gate) -> an
`actions.SendRealtime`; of an AI delta: `call.Call.receive_realtime` -> `playback.Playback` ->
`actions.SendTwilio`. Turn-taking state lives in `state.py`.
"""
