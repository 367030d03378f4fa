"""Hebrew text as callers say it and recognisers write it: normalisation, yes/no, spoken digits."""

from __future__ import annotations

import re
import unicodedata

_MARKS = re.compile(r"[\u0591-\u05bd\u05bf-\u05c7]")  # niqqud and cantillation (not maqaf, U+05BE)
_PUNCT = re.compile(r"[\u05be\u05f3\u05f4'\"`´‘’“”.,!?;:…\-–—()\[\]/\\]+")
_FINALS = str.maketrans("ךםןףץ", "כמנפצ")
_SPACES = re.compile(r"\s+")


def plain(text: str) -> str:
    """Without niqqud and punctuation, single-spaced: what a person would type."""
    text = _MARKS.sub("", unicodedata.normalize("NFC", text))
    return _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip().lower()


def key(text: str) -> str:
    """A matching key: plain, final letters folded, spelling variants (קריית/קרית) merged."""
    text = plain(text).translate(_FINALS)
    return text.replace("יי", "י").replace("וו", "ו")


def segments(text: str) -> list[str]:
    """The pieces a caller says between pauses and commas, last first (people correct themselves)."""
    parts = re.split(r"[,.…!?;:]+|\s-\s|\s–\s", unicodedata.normalize("NFC", text))
    return [plain(p) for p in reversed(parts) if plain(p)]


DIGITS = {
    "אפס": "0",
    "אחת": "1",
    "אחד": "1",
    "שתיים": "2",
    "שתים": "2",
    "שניים": "2",
    "שנים": "2",
    "שלוש": "3",
    "שלושה": "3",
    "ארבע": "4",
    "ארבעה": "4",
    "חמש": "5",
    "חמישה": "5",
    "שש": "6",
    "שישה": "6",
    "שבע": "7",
    "שבעה": "7",
    "שמונה": "8",
    "תשע": "9",
    "תשעה": "9",
}
_DIGIT_KEYS = {key(k): v for k, v in DIGITS.items()}


TENS = {
    "עשרים": 20,
    "שלושים": 30,
    "ארבעים": 40,
    "חמישים": 50,
    "שישים": 60,
    "שבעים": 70,
    "שמונים": 80,
    "תשעים": 90,
}
TEEN_WORDS = ("עשרה", "עשר")  # "אחת עשרה", "שלוש עשרה": 11-19 (feminine and masculine)
_TEN_KEYS = {key(k): v for k, v in TENS.items()}


def _unit(word: str) -> str | None:
    """A digit word, with or without the "and" prefix ("ושבע")."""
    if key(word) in _DIGIT_KEYS:
        return _DIGIT_KEYS[key(word)]
    if word.startswith("ו") and key(word[1:]) in _DIGIT_KEYS:
        return _DIGIT_KEYS[key(word[1:])]
    return None


def spoken_digits(text: str) -> str:
    """Digits and Hebrew number words in order, as callers group a phone number:
    "אפס חמש ארבע" -> "054"; "חמישים וארבע" -> "54"; "שתים עשרה" -> "12"; "עשר" -> "10"."""
    words = plain(text).split()
    out = []
    i = 0
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word.isdigit():
            out.append(word)
        elif key(word) in _TEN_KEYS:  # "חמישים וארבע", or "חמישים" alone
            unit = _unit(nxt) if nxt.startswith("ו") else None
            out.append(str(_TEN_KEYS[key(word)] + int(unit or 0)))
            i += 1 if unit is not None else 0
        elif _unit(word) is not None and nxt in TEEN_WORDS:
            out.append(str(10 + int(_unit(word) or 0)))
            i += 1
        elif word in TEEN_WORDS:
            out.append("10")
        elif (unit := _unit(word)) is not None:
            out.append(unit)
        i += 1
    return "".join(out)
