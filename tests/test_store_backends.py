"""The lead store's contract on both back ends: SQLite (the default) and PostgreSQL (`--db
postgresql://…`, run against a real server when FASTGATE_TEST_POSTGRES names one; `.ci/run` installs
and starts it and sets FASTGATE_REQUIRE_POSTGRES, so CI fails rather than skips without it)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from bridge.intake.intake import LeadIntake
from bridge.intake.profile import load_profile
from bridge.intake.store import LeadStore, open_store
from bridge.sim.scenario import load_scenario
from bridge.sim.simulation import run_simulation

PG_URL = os.environ.get("FASTGATE_TEST_POSTGRES", "")


def fresh_postgres() -> str:
    if not PG_URL:
        if os.environ.get("FASTGATE_REQUIRE_POSTGRES"):
            pytest.fail("FASTGATE_REQUIRE_POSTGRES is set but FASTGATE_TEST_POSTGRES is not")
        pytest.skip("no PostgreSQL server (set FASTGATE_TEST_POSTGRES=postgresql://…)")
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(PG_URL, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS lead_events, leads")
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[str]:
    yield str(tmp_path / "leads.db") if request.param == "sqlite" else fresh_postgres()


def test_fields_statuses_and_events(db: str) -> None:
    store = open_store(db)
    assert isinstance(store, LeadStore)
    lead = store.start("CA1", "+972541234567", "מנעולן הצפון")
    store.set_field(lead, "city", "קריית אתא", confirmed=False)
    store.set_field(lead, "city", None, confirmed=False)
    store.set_field(lead, "city", "קריית שמונה", confirmed=True)
    got = store.get(lead)
    assert got.fields == {"city": "קריית שמונה"} and got.confirmed == ["city"] and got.status == "partial"
    assert [e[0] for e in store.events(lead)] == ["start", "set", "clear", "confirm"]
    store.set_status(lead, "confirmed")
    other = store.start("CA2", None, "x")
    assert [x.id for x in store.leads("confirmed")] == [lead] and len(store.leads()) == 2
    assert store.lead_for_call("CA2") == other
    store.close()
    again = open_store(db)  # on disk / on the server, not in this process
    assert again.get(lead).status == "confirmed"
    again.close()


def test_spilled_writes_are_replayed_in_order(db: str) -> None:
    store = open_store(db)
    store.spill({"call_sid": "CA7", "lead_id": None, "kind": "start", "caller_id": None, "business": "x"})
    store.spill(
        {
            "call_sid": "CA7",
            "lead_id": None,
            "kind": "field",
            "field": "name",
            "value": "דני",
            "confirmed": False,
        }
    )
    assert store.replay_spilled() == 2 and not store.spilled()
    (lead,) = store.leads()
    assert lead.call_sid == "CA7" and lead.fields == {"name": "דני"}
    store.close()


def test_a_simulated_call_keeps_its_lead(db: str) -> None:
    store = open_store(db)
    profile = load_profile()
    sim = asyncio.run(
        run_simulation(
            load_scenario("seed-barge-in"), time_scale=0.25, app_factory=lambda: LeadIntake(profile, store)
        )
    )
    assert sim.report.app_errors == 0
    (lead,) = store.leads()
    assert lead.fields["city"] == "קריית שמונה" and lead.status == "partial"
    store.close()


def test_a_lost_postgresql_connection_is_reopened_and_nothing_is_lost() -> None:
    url = fresh_postgres()
    import psycopg

    store = open_store(url, retry_seconds=5)
    lead = store.start("CA9", None, "x")
    with psycopg.connect(url, autocommit=True) as admin:  # the server drops our connection
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND datname = current_database()"
        )
    store.set_field(lead, "city", "צפת", confirmed=True)  # retried on a new connection
    assert store.get(lead).fields == {"city": "צפת"} and not store.spilled()
    store.close()
