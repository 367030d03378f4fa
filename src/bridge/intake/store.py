"""Leads on disk: SQLite in WAL mode, every field change committed as it happens."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS leads (
    id INTEGER PRIMARY KEY,
    call_sid TEXT NOT NULL,
    caller_id TEXT,
    business TEXT,
    status TEXT NOT NULL DEFAULT 'partial' CHECK (status IN ('partial', 'confirmed', 'abandoned')),
    fields TEXT NOT NULL DEFAULT '{}',
    confirmed TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lead_events (
    id INTEGER PRIMARY KEY,
    lead_id INTEGER NOT NULL REFERENCES leads(id),
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    field TEXT,
    value TEXT
);
CREATE INDEX IF NOT EXISTS leads_status ON leads(status);
"""


@dataclass(frozen=True)
class Lead:
    id: int
    call_sid: str
    caller_id: str | None
    business: str | None
    status: str
    fields: dict[str, str]
    confirmed: list[str]
    created_at: float
    updated_at: float

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__}


class LeadStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # with WAL: a committed change survives a crash
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def start(self, call_sid: str, caller_id: str | None, business: str | None) -> int:
        now = time.time()
        cur = self.db.execute(
            "INSERT INTO leads (call_sid, caller_id, business, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (call_sid, caller_id, business, now, now),
        )
        assert cur.lastrowid is not None
        self._event(cur.lastrowid, "start", None, caller_id)
        return cur.lastrowid

    def set_field(self, lead_id: int, name: str, value: str | None, confirmed: bool) -> None:
        with self._tx():
            fields, done = self._load(lead_id)
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value
            done = sorted((set(done) | {name}) if confirmed else (set(done) - {name}))
            status = "partial"
            self.db.execute(
                "UPDATE leads SET fields = ?, confirmed = ?, status = ?, updated_at = ? WHERE id = ?",
                (json.dumps(fields, ensure_ascii=False), json.dumps(done), status, time.time(), lead_id),
            )
            self._event(
                lead_id, "confirm" if confirmed else ("clear" if value is None else "set"), name, value
            )

    def set_status(self, lead_id: int, status: str) -> None:
        with self._tx():
            self.db.execute(
                "UPDATE leads SET status = ?, updated_at = ? WHERE id = ?", (status, time.time(), lead_id)
            )
            self._event(lead_id, "status", None, status)

    def get(self, lead_id: int) -> Lead:
        row = self.db.execute("SELECT * FROM leads WHERE id = ?", (lead_id,)).fetchone()
        return _lead(row)

    def leads(self, status: str | None = None) -> list[Lead]:
        query = "SELECT * FROM leads" + (" WHERE status = ?" if status else "") + " ORDER BY id"
        return [_lead(r) for r in self.db.execute(query, (status,) if status else ())]

    def events(self, lead_id: int) -> list[tuple[str, str | None, str | None]]:
        return list(
            self.db.execute(
                "SELECT kind, field, value FROM lead_events WHERE lead_id = ? ORDER BY id", (lead_id,)
            )
        )

    def _load(self, lead_id: int) -> tuple[dict[str, str], list[str]]:
        row = self.db.execute("SELECT fields, confirmed FROM leads WHERE id = ?", (lead_id,)).fetchone()
        if row is None:
            raise KeyError(f"no lead {lead_id}")
        return json.loads(row[0]), json.loads(row[1])

    def _event(self, lead_id: int, kind: str, name: str | None, value: str | None) -> None:
        self.db.execute(
            "INSERT INTO lead_events (lead_id, at, kind, field, value) VALUES (?, ?, ?, ?, ?)",
            (lead_id, time.time(), kind, name, value),
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _lead(row: tuple[Any, ...]) -> Lead:
    return Lead(
        id=row[0],
        call_sid=row[1],
        caller_id=row[2],
        business=row[3],
        status=row[4],
        fields=json.loads(row[5]),
        confirmed=json.loads(row[6]),
        created_at=row[7],
        updated_at=row[8],
    )
