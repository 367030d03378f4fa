"""Israeli localities in Hebrew, matched the way callers and recognisers spell them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from rapidfuzz import fuzz, process

from bridge.intake.hebrew import key, plain, segments

MIN_SCORE = 60.0  # below this a guess is no match at all; above it, still always confirmed
MIN_FUZZY_CHARS = 6  # shorter words match exactly or not at all ("שלום" is not "שלומי")
PREFIXES = ("וב", "ב", "מ", "ל", "ה", "ו")  # "בקריית שמונה", "מחיפה", "לנהריה", "הקריות"


@dataclass(frozen=True)
class CityMatch:
    name: str  # canonical spelling
    score: float  # 100 for an exact (normalised) match
    heard: str

    @property
    def exact(self) -> bool:
        return self.score >= 100.0


@cache
def localities() -> dict[str, str]:
    """matching key -> canonical name, aliases included."""
    text = (files("bridge.intake") / "data" / "localities_he.txt").read_text("utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            names = [n.strip() for n in line.split("|")]
            for name in names:
                table.setdefault(key(name), names[0])
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
    for choices in (area, table):
        if not choices:
            continue
        best = max(
            (process.extractOne(k, list(choices), scorer=fuzz.ratio) for k in _candidates(heard)),
            key=lambda r: r[1] if r else -1,
        )
        if best and best[1] >= MIN_SCORE:
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
