"""Israeli localities in Hebrew, matched the way callers and recognisers spell them."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from rapidfuzz import fuzz, process

from bridge.intake.hebrew import key, plain, segments

MIN_SCORE = 60.0  # in the service area: below this a guess is no match at all; above, always confirmed
MIN_SCORE_NATIONWIDE = 80.0  # among all ~1,200 localities a loose guess is too often some other village
MIN_FUZZY_CHARS = 6  # shorter words match exactly or not at all ("שלום" is not "שלומי")
PREFIXES = ("וב", "ב", "מ", "ל", "ה", "ו")  # "בקריית שמונה", "מחיפה", "לנהריה", "הקריות"
_QUALIFIER = re.compile(r"\s*\([^)]*\)")  # "כנרת (מושבה)", "אבו קורינאת (יישוב)"


@dataclass(frozen=True)
class CityMatch:
    name: str  # canonical spelling
    score: float  # 100 for an exact (normalised) match
    heard: str

    @property
    def exact(self) -> bool:
        return self.score >= 100.0


@dataclass(frozen=True)
class Locality:
    code: int  # the CBS locality code
    name: str  # official Hebrew name
    name_en: str
    district: str


@cache
def official_localities() -> tuple[Locality, ...]:
    """Every Israeli locality (the CBS list bundled in data/localities_il.csv, with its source)."""
    text = (files("bridge.intake") / "data" / "localities_il.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return tuple(Locality(int(r["code"]), r["name_he"], r["name_en"], r["district"]) for r in rows)


def _variants(locality: Locality) -> list[str]:
    """How callers and recognisers write it: without the CBS qualifier in brackets, in English (with
    the common K for Q: "Kiryat"), with an ASCII quote for gershayim."""
    names = [locality.name, locality.name.replace("״", '"')]
    bare = _QUALIFIER.sub("", locality.name).strip()
    if bare != locality.name:
        names.append(bare)
    english = locality.name_en.lower()
    names += [english, english.replace("q", "k"), english.replace("'", "")]
    if "-" in english:  # "tel aviv - yafo": "tel aviv"
        names.append(english.split("-")[0].strip())
    return names


@cache
def localities() -> dict[str, str]:
    """matching key -> canonical name: the common spellings and aliases first (data/localities_he.txt,
    the names callers use), then every official locality and its variants."""
    text = (files("bridge.intake") / "data" / "localities_he.txt").read_text("utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            names = [n.strip() for n in line.split("|")]
            for name in names:
                table.setdefault(key(name), names[0])
    for locality in official_localities():
        canonical = table.get(key(locality.name), locality.name)
        for name in _variants(locality):
            table.setdefault(key(name), canonical)
    return table


def _candidates(heard: str) -> list[str]:
    k = key(heard)
    out = [k]
    for prefix in PREFIXES:
        if k.startswith(prefix) and len(k) > len(prefix) + 2:
            out.append(k[len(prefix) :])
    return out


def match_city(heard: str, service_area: tuple[str, ...] = ()) -> CityMatch | None:
    """Exact (after normalisation) wins; then the service area; then all localities, fuzzily."""
    if not plain(heard):
        return None
    table = localities()
    area = {key(c): c for c in service_area}
    for k in _candidates(heard):
        if k in area:
            return CityMatch(area[k], 100.0, heard)
        if k in table:
            return CityMatch(table[k], 100.0, heard)
    if len(key(heard).replace(" ", "")) < MIN_FUZZY_CHARS:
        return None
    for choices, threshold in ((area, MIN_SCORE), (table, MIN_SCORE_NATIONWIDE)):
        if not choices:
            continue
        best = max(
            (process.extractOne(k, list(choices), scorer=fuzz.ratio) for k in _candidates(heard)),
            key=lambda r: r[1] if r else -1,
        )
        if best and best[1] >= threshold:
            return CityMatch(choices[best[0]], round(best[1], 1), heard)
    return None


def find_city(text: str, service_area: tuple[str, ...] = ()) -> CityMatch | None:
    """The city in a caller's words: the exact mention if any (latest first), else the best guess."""
    pieces = segments(text) or [text]
    guesses = []
    for piece in pieces:
        words = piece.split()
        for size in (3, 2, 1):  # n-grams, longest first: "תל אביב יפו" before "יפו"
            for i in range(len(words) - size, -1, -1):
                found = match_city(" ".join(words[i : i + size]), service_area)
                if found is not None:
                    if found.exact:
                        return found
                    guesses.append(found)
    return max(guesses, key=lambda m: m.score) if guesses else None
