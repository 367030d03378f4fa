"""Validation of each lead field: what the model recorded, checked and normalised by the bridge."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bridge.intake.gazetteer import find_city
from bridge.intake.hebrew import key, plain, spoken_digits


@dataclass(frozen=True)
class Checked:
    ok: bool
    value: str | None = None  # normalised
    exact: bool = True  # False: a guess the caller must confirm
    problem: str = ""


def check_phone(raw: str) -> Checked:
    """Israeli numbers to E.164: 05X-XXXXXXX, 0X-XXXXXXX, 07X-XXXXXXX, +972… (words too: "אפס חמש…")."""
    digits = re.sub(r"\D", "", raw) if re.search(r"\d", raw) else spoken_digits(raw)
    if raw.strip().startswith("+") or digits.startswith("972"):
        digits = "0" + digits.removeprefix("972").lstrip("0")
    if re.fullmatch(r"05\d{8}|07\d{8}", digits) or re.fullmatch(r"0[23489]\d{7}", digits):
        return Checked(True, "+972" + digits[1:])
    if re.fullmatch(r"1[58]00\d{6}|1[57]\d{2}\d{6}", digits):
        return Checked(True, digits)  # toll-free / premium numbers stay national
    return Checked(False, problem=f"'{raw}' is not an Israeli phone number (05X-XXXXXXX, 0X-XXXXXXX)")


def check_city(raw: str, service_area: tuple[str, ...]) -> Checked:
    found = find_city(raw, service_area)
    if found is None:
        return Checked(False, problem=f"'{raw}' is not a known locality in Israel")
    if service_area and found.name not in service_area:
        return Checked(True, found.name, found.exact, problem=f"{found.name} is outside the service area")
    return Checked(True, found.name, found.exact)


def check_service(raw: str, services: tuple[str, ...]) -> Checked:
    if not services:
        return Checked(True, plain(raw))
    by_key = {key(s): s for s in services}
    if key(raw) in by_key:
        return Checked(True, by_key[key(raw)])
    best = process.extractOne(key(raw), list(by_key), scorer=fuzz.partial_ratio)
    if best and best[1] >= 75:
        return Checked(True, by_key[best[0]], exact=False)
    return Checked(False, problem=f"'{raw}' is not one of the services: {', '.join(services)}")


def check_name(raw: str) -> Checked:
    name = plain(raw)
    if not name or len(name) > 60 or any(ch.isdigit() for ch in name):
        return Checked(False, problem=f"'{raw}' does not look like a name")
    return Checked(True, name)
