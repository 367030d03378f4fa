"""The business profile: who answers, what they offer, where, and what to ask (a TOML file)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

DEFAULT_FIELDS = ("service", "city", "name", "phone")
FIELD_LABELS_HE = {"service": "השירות", "city": "העיר", "name": "השם", "phone": "מספר הטלפון"}


@dataclass(frozen=True)
class BusinessProfile:
    business_name: str
    services: tuple[str, ...]
    cities: tuple[str, ...]
    required_fields: tuple[str, ...] = DEFAULT_FIELDS
    instructions: str = ""
    greeting: str = ""
    goodbye: str = ""
    confirm_template: str = "רק מוודאת: {summary}. נכון?"
    labels: dict[str, str] = field(default_factory=lambda: dict(FIELD_LABELS_HE))
    fallback_number: str = ""  # [failure]: a person who takes the call when the model is gone
    transfer_message: str = ""  # [failure]: what Twilio says before dialling them

    def render_instructions(self) -> str:
        return self.instructions.format(
            business_name=self.business_name,
            services=", ".join(self.services),
            cities=", ".join(self.cities),
            required_fields=", ".join(self.labels.get(f, f) for f in self.required_fields),
            greeting=self.greeting,
            goodbye=self.goodbye,
        )

    def transcription_prompt(self) -> str:
        """Words the recogniser should expect on this business's calls."""
        return ", ".join((self.business_name, *self.services, *self.cities))


def parse_profile(data: dict[str, Any]) -> BusinessProfile:
    try:
        business = data["business"]
        required = tuple(data.get("lead", {}).get("required_fields", DEFAULT_FIELDS))
        unknown = set(required) - set(DEFAULT_FIELDS)
        if unknown:
            raise ValueError(f"unknown required fields: {', '.join(sorted(unknown))}")
        script = data.get("script", {})
        failure = data.get("failure", {})
        return BusinessProfile(
            business_name=str(business["name"]),
            services=tuple(business["services"]),
            cities=tuple(business.get("cities", ())),
            required_fields=required,
            instructions=str(script.get("instructions", "")),
            greeting=str(script.get("greeting", "")),
            goodbye=str(script.get("goodbye", "")),
            confirm_template=str(script.get("confirm", "רק מוודאת: {summary}. נכון?")),
            labels={**FIELD_LABELS_HE, **data.get("labels", {})},
            fallback_number=str(failure.get("fallback_number", "")),
            transfer_message=str(failure.get("transfer_message", "")),
        )
    except KeyError as exc:
        raise ValueError(f"business profile is missing {exc}") from exc


def load_profile(path: str | None = None) -> BusinessProfile:
    """A TOML profile; without a path, the shipped Hebrew locksmith example."""
    text = (
        Path(path).read_text("utf-8")
        if path
        else (files("bridge.intake") / "data" / "locksmith.toml").read_text("utf-8")
    )
    return parse_profile(tomllib.loads(text))
