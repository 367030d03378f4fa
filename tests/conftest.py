from __future__ import annotations

import warnings
from importlib.resources import files

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: F401  (stdlib up to 3.12, audioop-lts after)

AUDIO = files("bridge.sim") / "audio"


def load_audio(name: str) -> bytes:
    return (AUDIO / f"{name}.ulaw").read_bytes()


@pytest.fixture
def audio():
    return load_audio
