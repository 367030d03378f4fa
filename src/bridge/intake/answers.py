"""How a caller answered a read-back ("רק מוודאת: ... נכון?"): yes, no, a correction, or unclear.

Callers hesitate, repeat themselves and correct themselves; recognisers drop or invent punctuation.
The answer is read clause by clause (between commas, dots and pauses), fillers skipped, and the last
clear clause wins ("לא… כן, נכון" is a yes; "כן… רגע, לא" a no). What is never a yes:
- a "don't know", "not sure", "didn't hear" (with or without a subject): unclear, and not a no either;
- a hedged yes ("נראה לי", "אולי", "אני חושב"), a yes asked back ("כן?"), or a "yes, but …": unclear;
- any clear negation after the yes ("כן אבל השם לא נכון"): a no.
A no followed by a value ("לא, קריית שמונה", "אני לא בקריית אתא, אני בצפת") is a correction with it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from bridge.intake.hebrew import plain


class Kind(StrEnum):
    YES = "yes"
    NO = "no"
    CORRECTION = "correction"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Answer:
    kind: Kind
    value: str = ""  # for a correction: what the caller said instead

    @property
    def negative(self) -> bool:
        return self.kind in (Kind.NO, Kind.CORRECTION)


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


FILLERS = _set(
    "אממ אמ אה אהה אהמ אהם הממ ממ אוף נו אז יעני כאילו שמע שמעי תשמעי תקשיבי תקשיב בעצם רגע סליחה אוי"
)
INTENSIFIERS = _set("ממש מאוד לגמרי חד משמעית")
YES_WORDS = _set(
    "כן נכון נכונים נכונה בדיוק מדויק מדויקת בהחלט כמובן בטח ודאי בוודאי אכן ברור סבבה אחלה בול פיקס סגור "
    "יופי מעולה מצוין מושלם בסדר טוב אמת זהו אוקיי אוקי יס yes yeah yep ok okay sure פרפקט שור מאושר "
    "מאושרים אישור מאשר מאשרת מאשרים מאשרות צודק צודקת צודקים צודקות מסכים מסכימה מסכימים"
)
YES_PHRASES = (
    ("אין", "בעיה"),
    ("לא", "בעיה"),
    ("בלי", "בעיה"),
    ("למה", "לא"),
    ("מאה", "אחוז"),
    ("יאללה", "כן"),
    ("וואלה", "כן"),
    ("וואלה", "נכון"),
    ("כל", "הפרטים", "נכונים"),
)
SUBJECTS = _set("אני אנחנו את אתה אתם הכל זה")
# after a yes these keep it a plain yes ("כן, זה הטלפון שלי, תודה")
POLITE = _set(
    "כן נכון מאוד ממש לגמרי בדיוק ככה זה זאת הכל תודה רבה לך בבקשה להתראות שכן את אתה אתם אני אנחנו "
    "הפרטים הטלפון המספר השם הכתובת העיר שלי יקירתי מותק אחי אחותי גמור מאושר הוא היא מה שאמרתי"
)
NO_WORDS = _set("לא טעות טעית טעיתם טועה טועים התבלבלת התבלבלתם שגוי שגויה פספסת")
MISTAKE_WORDS = NO_WORDS - {"לא"}  # a no even when hedged: "נראה לי שטעית"
NO_PHRASES = (
    ("אין", "מצב"),
    ("הבנת", "לא", "נכון"),
    ("רשמת", "לא", "נכון"),
    ("משהו", "אחר"),
    ("משהו", "אחרת"),
)
# "לא" with one of these within two words is a caller who does not know or did not hear
UNSURE = _set("יודע יודעת יודעים זוכר זוכרת זוכרים בטוח בטוחה בטוחים שמעתי שמעתם הבנתי הצלחתי ידוע")
UNCLEAR_PHRASES = (
    ("אין", "לי", "מושג"),
    ("נראה", "לי"),
    ("אני", "חושב"),
    ("אני", "חושבת"),
    ("פחות", "או", "יותר"),
    ("מה", "זה", "משנה"),
    ("תני", "לי", "לחשוב"),
    ("אני", "צריך", "לבדוק"),
    ("אפשר", "לחזור"),
    ("עוד", "פעם"),
    ("הקו", "נפל"),
)
UNCLEAR_WORDS = _set("אולי כנראה בערך תחזרי תחזור שוב שנייה הלו שלום חושב חושבת")
BUT_WORDS = _set("אבל רק חוץ אלא")
# words that carry no value of their own after a no ("לא אמרתי את זה", "זה לא השם שלי")
NOT_A_VALUE = POLITE | _set(
    "אמרתי ככה כך אותי אותו שם פה בזה מה שאמרתי הבנת רשמת נכון מדויק בעיר בשם במספר בטלפון בשירות משהו "
    "השירות יש ביקשתי שביקשתי אחר אחרת"
)
STRIPPED_BEFORE_VALUE = _set("זה זו אני הוא היא גר גרה")
_CLAUSES = re.compile(r"[,.…!?;:]+|\s[-–—]\s")
_REPEATS = re.compile(r"(.)\1{2,}")  # "לאאא", "כןןן": emphasis, not spelling
_TRAILING = re.compile(r"(.)\1+$")  # "לאא": a stretched last letter
KNOWN = YES_WORDS | NO_WORDS


def _word(raw: str) -> str:
    """One word as it counts: emphasis undone, and a "that"/"and" prefix before a no ("שטעית", "ולא")."""
    word = _REPEATS.sub(r"\1", raw)
    if word not in KNOWN and _TRAILING.sub(r"\1", word) in KNOWN:
        word = _TRAILING.sub(r"\1", word)
    if word[:1] in ("ש", "ו") and word[1:] in MISTAKE_WORDS:
        word = word[1:]
    return word


def _has(words: list[str], phrase: tuple[str, ...]) -> int:
    """Index just after the first occurrence of `phrase`, or -1."""
    n = len(phrase)
    for i in range(len(words) - n + 1):
        if tuple(words[i : i + n]) == phrase:
            return i + n
    return -1


def _unsure(words: list[str]) -> bool:
    if words[0] == "מה" or any(w in UNCLEAR_WORDS for w in words):  # "מה?", "מה אמרת?"
        return True
    if any(_has(words, p) >= 0 for p in UNCLEAR_PHRASES):
        return True
    return any(w == "לא" and UNSURE & set(words[i + 1 : i + 3]) for i, w in enumerate(words))


def _negation_end(words: list[str]) -> int:
    """Where the caller's clear "no" ends in the clause, or -1 ("לא בעיה" and "למה לא" are yes)."""
    if any(_has(words, p) >= 0 for p in YES_PHRASES if "לא" in p):
        return -1
    ends = [_has(words, p) for p in NO_PHRASES]
    first = next((i for i, w in enumerate(words) if w in NO_WORDS), -1)
    if first >= 0:
        end = first + 1
        while end < len(words) and words[end] in NO_WORDS | INTENSIFIERS | {"נכון", "מדויק", "זה", "זאת"}:
            end += 1  # "לא לא לא", "לא נכון", "לא זה"
        ends.append(end)
    return max(ends, default=-1)


def _yes_end(words: list[str]) -> int:
    """Index just after the yes that opens the clause, or -1."""
    for phrase in YES_PHRASES:
        if tuple(words[: len(phrase)]) == phrase:
            return len(phrase)
    start = 0
    while start < len(words) and (words[start] in INTENSIFIERS or words[start] in SUBJECTS):
        start += 1
    end = start
    while end < len(words) and words[end] in YES_WORDS:
        end += 1
    return end if end > start else -1


@dataclass(frozen=True)
class _Clause:
    kind: Kind | None  # None: a value, or nothing but politeness
    value: str = ""
    but: bool = False


def _value(words: list[str]) -> str:
    while words and words[0] in STRIPPED_BEFORE_VALUE:
        words = words[1:]
    return " ".join(words) if any(w not in NOT_A_VALUE for w in words) else ""


def _clause(text: str) -> _Clause:
    words = [_word(w) for w in plain(text).split()]
    while words and words[0] in FILLERS:
        words = words[1:]
    if not words:
        return _Clause(None)
    but = words[0] in BUT_WORDS
    negation = _negation_end(words)
    if negation >= 0 and (not _unsure(words) or MISTAKE_WORDS & set(words)):
        return _Clause(Kind.NO, _value([w for w in words[negation:] if w not in NO_WORDS]), but)
    if but or _unsure(words):
        return _Clause(Kind.UNCLEAR, but=but)
    yes = _yes_end(words)
    if yes >= 0:
        tail = words[yes:]
        if any(w in BUT_WORDS or w.startswith("חוץ") for w in tail):
            return _Clause(Kind.UNCLEAR, but=True)
        return (
            _Clause(Kind.YES) if all(w in POLITE or w in YES_WORDS for w in tail) else _Clause(Kind.UNCLEAR)
        )
    return _Clause(None, _value(words))


def classify_answer(text: str) -> Answer:
    """The caller's answer to a read-back. Never a yes unless the caller clearly said one."""
    text = unicodedata.normalize("NFC", text).strip()
    answer: Answer | None = None
    for clause in map(_clause, _CLAUSES.split(text)):
        if clause.kind is None:
            if clause.value and answer is not None and answer.negative:  # "לא. צפת."
                answer = Answer(Kind.CORRECTION, f"{answer.value} {clause.value}".strip())
            elif clause.value and answer is not None and answer.kind is Kind.YES:
                answer = Answer(Kind.UNCLEAR)  # "כן, ואפשר גם ...": more than a yes
        elif clause.kind is Kind.NO:
            answer = Answer(Kind.CORRECTION, clause.value) if clause.value else Answer(Kind.NO)
        elif clause.kind is Kind.UNCLEAR:
            answer = Answer(Kind.UNCLEAR)
        else:
            answer = Answer(Kind.YES)
    if answer is not None and answer.kind is Kind.YES and text.endswith("?"):
        return Answer(Kind.UNCLEAR)  # "כן?": asked back, not answered
    return answer or Answer(Kind.UNCLEAR)
