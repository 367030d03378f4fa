"""Lead intake for service businesses, in Hebrew: fields, confirmation, 'no' handling, hangup."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.intake.intake import LeadIntake
    from bridge.intake.profile import BusinessProfile
    from bridge.intake.store import LeadStore


def intake_factory(profile: BusinessProfile, store: LeadStore | None) -> Callable[[], LeadIntake]:
    """A fresh LeadIntake per call, all writing to one store."""
    from bridge.intake.intake import LeadIntake

    return lambda: LeadIntake(profile, store)
