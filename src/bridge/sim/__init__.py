"""Protocol-faithful peers for tests and demos: an OpenAI Realtime (GA) server and a Twilio caller."""
