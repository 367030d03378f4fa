"""Leads in SQLite: every change on disk as it happens, statuses, export, and survival of kill -9."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from argparse import Namespace

from bridge.cli.leads import render, show_leads
from bridge.intake.store import LeadStore


def test_wal_and_field_changes_are_written_at_once(tmp_path):
    path = tmp_path / "leads.db"
    store = LeadStore(path)
    lead = store.start("CA1", "+972541234567", "מנעולן הצפון")
    store.set_field(lead, "city", "קריית אתא", confirmed=False)
    other = sqlite3.connect(path)  # another connection sees it before anything else happens
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert json.loads(other.execute("SELECT fields FROM leads").fetchone()[0]) == {"city": "קריית אתא"}
    store.set_field(lead, "city", None, confirmed=False)
    store.set_field(lead, "city", "קריית שמונה", confirmed=True)
    got = store.get(lead)
    assert got.fields == {"city": "קריית שמונה"} and got.confirmed == ["city"] and got.status == "partial"
    assert [e[0] for e in store.events(lead)] == ["start", "set", "clear", "confirm"]
    store.set_status(lead, "confirmed")
    assert [lead.id for lead in store.leads("confirmed")] == [lead]
    store.close()


def test_export_csv_json_and_table(tmp_path, capsys):
    path = tmp_path / "leads.db"
    store = LeadStore(path)
    lead = store.start("CA9", "+972541234567", "x")
    for name, value in (
        ("service", "פריצת דלתות"),
        ("city", "צפת"),
        ("name", "דני"),
        ("phone", "+972541234567"),
    ):
        store.set_field(lead, name, value, confirmed=True)
    store.set_status(lead, "confirmed")
    leads = store.leads()
    rows = list(csv.DictReader(io.StringIO(render(leads, "csv"))))
    assert rows[0]["city"] == "צפת" and rows[0]["status"] == "confirmed"
    assert json.loads(render(leads, "json"))[0]["fields"]["name"] == "דני"
    assert "פריצת דלתות | צפת | דני" in render(leads, "table")
    store.close()
    out = tmp_path / "leads.csv"
    assert show_leads(Namespace(db=str(path), status=None, format="csv", out=str(out))) == 0
    assert "צפת" in out.read_text("utf-8")
    assert show_leads(Namespace(db=str(tmp_path / "none.db"), status=None, format="table", out=None)) == 1


def test_a_process_killed_mid_call_leaves_the_partial_lead(tmp_path):
    path = tmp_path / "leads.db"
    script = textwrap.dedent(f"""
        import os, signal
        from bridge.intake.store import LeadStore
        store = LeadStore({str(path)!r})
        lead = store.start("CAkill", "+972541234567", "x")
        store.set_field(lead, "service", "פריצת דלתות", confirmed=False)
        store.set_field(lead, "city", "קריית שמונה", confirmed=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ}, check=False)
    assert proc.returncode == -signal.SIGKILL
    store = LeadStore(path)
    (lead,) = store.leads()
    assert lead.status == "partial" and lead.fields == {"service": "פריצת דלתות", "city": "קריית שמונה"}
    assert lead.confirmed == ["city"]
    store.close()


def test_a_lock_held_briefly_by_another_process_is_waited_out(tmp_path):
    import threading

    path = str(tmp_path / "leads.db")
    store = LeadStore(path, busy_ms=20)
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, lambda: locker.execute("ROLLBACK")).start()
    lead = store.start("CA1", None, "x")  # retried with backoff until the lock goes
    assert store.get(lead).call_sid == "CA1" and not store.spilled()


def test_spilled_writes_are_replayed_when_a_store_opens_and_a_damaged_file_is_set_aside(tmp_path):
    path = str(tmp_path / "leads.db")
    LeadStore(path).close()
    spill = tmp_path / "leads.db.pending"
    records = [
        {"call_sid": "CA1", "lead_id": None, "kind": "start", "caller_id": None, "business": "x"},
        {
            "call_sid": "CA1",
            "lead_id": None,
            "kind": "field",
            "field": "city",
            "value": "צפת",
            "confirmed": True,
        },
        {"call_sid": "CA1", "lead_id": None, "kind": "status", "status": "partial"},
    ]
    spill.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    store = LeadStore(path)
    (lead,) = store.leads()
    assert lead.fields == {"city": "צפת"} and lead.confirmed == ["city"] and not spill.exists()
    spill.write_text("{not json\n", "utf-8")
    store.close()
    LeadStore(path).close()  # logged, set aside for a person to read, never retried
    assert not spill.exists() and list(tmp_path.glob("leads.db.unreadable-*"))
