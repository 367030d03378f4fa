"""Hebrew yes/no, digits, cities, phones and services: tables of what callers really say.

(The yes/no tables here predate the read-back classifier; they run against it, beside the larger
data-driven tables of tests/test_answers.py.)"""

from __future__ import annotations

import pytest

from bridge.intake.answers import Kind, classify_answer
from bridge.intake.fields import check_city, check_name, check_phone, check_service
from bridge.intake.gazetteer import find_city, match_city
from bridge.intake.hebrew import plain, spoken_digits
from bridge.intake.profile import load_profile

PROFILE = load_profile()

NEGATIONS = [
    ("לא", ""),
    ("לא.", ""),
    ("לא…", ""),
    ("לא!", ""),
    ("לֹא", ""),
    ("לא לא", ""),
    ("לא, לא.", ""),
    ("לא נכון", ""),
    ("לא נכון.", ""),
    ("ממש לא", ""),
    ("ממש לא!", ""),
    ("בכלל לא", ""),
    ("טעות", ""),
    ("טעות.", ""),
    ("זה לא", ""),
    ("אין מצב", ""),
    ("לא ממש", ""),
    ("שגוי", ""),
    ("לא, קריית שמונה", "קריית שמונה"),
    ("לא… קליבר אמונה… קריית שמונה", "קליבר אמונה קריית שמונה"),
    ("לא לא, צפת", "צפת"),
    ("לא נכון, זה ראש פינה", "זה ראש פינה"),
    ("טעות, המספר 052-7654321", "המספר 052 7654321"),
    ("זה לא קריית אתא", "קריית אתא"),
    ("לא—נהריה", "נהריה"),
]
AFFIRMATIONS = [
    "כן",
    "כן.",
    "כן!",
    "כֵּן",
    "נכון",
    "נכון.",
    "נָכוֹן",
    "בדיוק",
    "בדיוק!",
    "כן כן",
    "כן, כן",
    "כן נכון",
    "כן, נכון.",
    "נכון מאוד",
    "מאשר",
    "מאשרת",
    "אכן",
    "בטח",
    "בהחלט",
    "כן, תודה",
    "כן בדיוק ככה",
]
NEITHER = [
    "",
    "אולי",
    "רגע",
    "מה?",
    "לאה",
    "לאט",
    "כנרת",
    "קריית שמונה",
    "אני לא בטוח",
    "כן אבל לא",
    "כן… לא",
    "נכון שלא",
    "כן, אבל העיר לא נכונה",
    "רגע, לא הבנתי",
    "שנייה",
    "אפשר לחזור על זה?",
    "הממ",
    "כן, אני צריך גם החלפת צילינדר ועוד כמה דברים בבית",
]


@pytest.mark.parametrize(("text", "rest"), NEGATIONS)
def test_negations(text, rest):
    answer = classify_answer(text)
    assert answer.negative
    meaningful = [w for w in plain(rest).split() if w not in ("זה", "המספר")]
    assert all(w in plain(answer.value).split() for w in meaningful)


@pytest.mark.parametrize("text", AFFIRMATIONS)
def test_affirmations(text):
    assert classify_answer(text).kind is Kind.YES


@pytest.mark.parametrize("text", NEITHER)
def test_neither_yes_nor_no(text):
    answer = classify_answer(text)
    assert answer.kind is not Kind.YES
    if not text.startswith(("לא", "כן", "נכון")):
        assert not answer.negative


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("אפס חמש ארבע, אחת שתיים שלוש, ארבע חמש שש שבע", "0541234567"),
        ("שלוש ושבע", "37"),
        ("054 123", "054123"),
        ("אפס שתיים, שש שש שש, שמונה שמונה שמונה שמונה", "026668888"),
        ("דני", ""),
        ("אפס חמש ארבע, חמישים וארבע, שלושים ושתיים, שבעים ושבע", "054543277"),
        ("אפס חמישים ושתיים, מאה", "052"),  # "מאה" is no digit group of a phone
        ("שתים עשרה שלוש עשרה", "1213"),
        ("עשר עשרים", "1020"),
        ("שישים ושש", "66"),
    ],
)
def test_spoken_digits(text, digits):
    assert spoken_digits(text) == digits


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("054-1234567", "+972541234567"),
        ("0541234567", "+972541234567"),
        ("054 123 4567", "+972541234567"),
        ("+972-54-123-4567", "+972541234567"),
        ("972541234567", "+972541234567"),
        ("+9720541234567", "+972541234567"),
        ("04-6901234", "+97246901234"),
        ("02 6251111", "+97226251111"),
        ("077-1234567", "+972771234567"),
        ("אפס חמש ארבע, אחת שתיים שלוש, ארבע חמש שש שבע", "+972541234567"),
        ("1-800-123-456", "1800123456"),
    ],
)
def test_israeli_phones_to_e164(raw, e164):
    assert check_phone(raw).value == e164


@pytest.mark.parametrize("raw", ["12345", "054-123", "06-1234567", "+1 212 555 0100", "", "דני"])
def test_bad_phones(raw):
    result = check_phone(raw)
    assert not result.ok and "Israeli phone" in result.problem


@pytest.mark.parametrize(
    ("heard", "city", "exact"),
    [
        ("קריית שמונה", "קריית שמונה", True),
        ("קרית שמונה", "קריית שמונה", True),
        ("בקריית שמונה", "קריית שמונה", True),
        ("קִרְיַת שְׁמוֹנָה", "קריית שמונה", True),
        ("קריית-שמונה", "קריית שמונה", True),
        ("קליבר אמונה", "קריית שמונה", False),
        ("קירית שמונה", "קריית שמונה", False),
        ("צפת", "צפת", True),
        ("בצפת", "צפת", True),
        ("מטולה", "מטולה", True),
        ("נהריה", "נהריה", True),
        ("נהרייה", "נהריה", True),
        ("תל אביב", "תל אביב-יפו", True),
        ("פתח תקוה", "פתח תקווה", True),
        ("נצרת עילית", "נוף הגליל", True),
        ("הרצליה", "הרצליה", True),
        ("קרית אתא", "קריית אתא", True),
        ("מעלות", "מעלות-תרשיחא", True),
        ("ראש פינה", "ראש פינה", True),
    ],
)
def test_city_matching(heard, city, exact):
    found = match_city(heard, PROFILE.cities)
    assert found is not None and found.name == city and found.exact == exact


@pytest.mark.parametrize("heard", ["", "שלום", "אני צריך עזרה", "xyz"])
def test_no_city(heard):
    assert match_city(heard, PROFILE.cities) is None


def test_the_city_in_a_sentence_prefers_the_exact_and_latest_mention():
    assert find_city("לא… קליבר אמונה… קריית שמונה", PROFILE.cities).name == "קריית שמונה"
    assert find_city("אני צריך פריצת דלתות בקריית שמונה", PROFILE.cities).exact
    assert find_city("לא צפת, נהריה", PROFILE.cities).name == "נהריה"


def test_city_checks_flag_the_service_area():
    assert check_city("צפת", PROFILE.cities).problem == ""
    outside = check_city("חיפה", PROFILE.cities)
    assert outside.ok and outside.value == "חיפה" and "outside the service area" in outside.problem
    assert not check_city("בלה בלה", PROFILE.cities).ok


@pytest.mark.parametrize(
    ("raw", "service", "exact"),
    [
        ("פריצת דלתות", "פריצת דלתות", True),
        ("פריצת דלת", "פריצת דלתות", False),
        ("צילינדר", "החלפת צילינדר", False),
        ("פריצת רכב", "פריצת רכב", True),
    ],
)
def test_services(raw, service, exact):
    result = check_service(raw, PROFILE.services)
    assert result.value == service and result.exact == exact


def test_unknown_service_and_names():
    assert not check_service("אינסטלציה", PROFILE.services).ok
    assert check_name("דני").value == "דני"
    assert check_name("דָּנִי כהן.").value == "דני כהן"
    assert not check_name("054 1234567").ok and not check_name("").ok


# -- the official localities list -----------------------------------------------------------------------
def test_every_official_locality_is_found_by_its_own_name():
    from bridge.intake.gazetteer import official_localities

    everything = official_localities()
    assert len(everything) > 1200
    misses = [loc.name for loc in everything if not (m := match_city(loc.name)) or not m.exact]
    assert misses == []


@pytest.mark.parametrize(
    ("said", "city"),
    [
        ("אני גר במושב אביגדור", "אביגדור"),  # a small moshav, never in the hand-made list
        ("מכפר ורדים", "כפר ורדים"),
        ("ביישוב עלי זהב", "עלי זהב"),
        ("מצפה רמון", "מצפה רמון"),
        ("גבעת כ״ח", "גבעת כ״ח"),
        ('גבעת כ"ח', "גבעת כ״ח"),
        ("Kiryat Shmona", "קריית שמונה"),
        ("kefar vradim", "כפר ורדים"),
        ("אני מ Tel Aviv", "תל אביב-יפו"),
    ],
)
def test_small_localities_spellings_and_english(said, city):
    found = find_city(said)
    assert found is not None and found.name == city


@pytest.mark.parametrize(
    ("said", "city"),
    [("זכריה", "זכריה"), ("זרחיה", "זרחיה"), ("עזריה", "עזריה"), ("ברכיה", "ברכיה"), ("נהריה", "נהריה")],
)
def test_near_homonym_towns_match_exactly_and_only_themselves(said, city):
    found = match_city(said)
    assert found is not None and found.exact and found.name == city


def test_a_misheard_small_town_is_a_guess_to_confirm():
    found = match_city("זכרייה יעקב")
    assert found is not None and found.name == "זכרון יעקב" and not found.exact
