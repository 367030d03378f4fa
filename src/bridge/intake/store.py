"""Leads on disk: SQLite in WAL mode, every field change committed as it happens.

A database locked by another process is waited for (`retry_seconds`, with backoff); a write that still
cannot land is appended to a spill file beside the database (`leads.db.pending`, one JSON line each,
flushed to disk) and replayed, in order, before the next write and when a store opens. A lead is
never lost to a lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("fastgate.leads")

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


def locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class LeadStore:
    def __init__(self, path: str | Path, *, retry_seconds: float = 30.0, busy_ms: int = 2000) -> None:
        self.path = str(path)
        self.spill_path = Path(self.path + ".pending")
        self.retry_seconds = retry_seconds
        self.busy_ms = busy_ms
        self.db: Any = None
        self._connect()
        try:
            self.replay_spilled()
        except ValueError as exc:
            log.error("leads: %s", exc)
        except Exception as exc:  # still locked or unreachable: the next write tries again
            if not self.retryable(exc):
                raise

    def _connect(self) -> None:
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._x(f"PRAGMA busy_timeout={int(self.busy_ms)}")
        self.retrying(self.db.execute, "PRAGMA journal_mode=WAL")
        self._x("PRAGMA synchronous=NORMAL")  # with WAL: a committed change survives a crash
        self.retrying(self.db.executescript, SCHEMA)

    def _x(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        return self.db.execute(query, params)

    def retryable(self, exc: BaseException) -> bool:
        """Worth another try later: another process holds the lock."""
        return isinstance(exc, sqlite3.OperationalError) and locked(exc)

    def close(self) -> None:
        self.db.close()

    def retrying(self, write: Callable[..., T], *args: Any) -> T:
        """`write(*args)`, again while another process holds the lock, up to retry_seconds in all."""
        deadline, pause = time.monotonic() + self.retry_seconds, 0.05
        while True:
            try:
                return write(*args)
            except Exception as exc:
                if not self.retryable(exc) or time.monotonic() + pause > deadline:
                    raise
                self._recover()
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _recover(self) -> None:
        """Before another try (a lost PostgreSQL connection is opened again)."""

    # -- the spill file: writes that could not land, replayed in order ---------------------------------------
    def spill(self, record: dict[str, Any]) -> None:
        with self.spill_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def spilled(self) -> bool:
        return self.spill_path.exists()

    def replay_spilled(self) -> int:
        """Apply the spill file in one transaction, then remove it; returns how many writes it held."""
        if not self.spill_path.exists():
            return 0
        lines = self.spill_path.read_text("utf-8").splitlines()
        try:
            records = [json.loads(line) for line in lines if line.strip()]
            with self._tx():
                for r in records:
                    self._replay(r)
        except (ValueError, LookupError, TypeError) as exc:  # a damaged file: set aside, never retried
            aside = self.spill_path.with_suffix(f".unreadable-{time.time():.0f}")
            self.spill_path.rename(aside)
            raise ValueError(f"spill file unreadable ({exc!r}); kept as {aside}") from None
        self.spill_path.unlink()
        return len(records)

    def _replay(self, r: dict[str, Any]) -> None:
        if r["kind"] == "start":
            self._insert_lead(r["call_sid"], r.get("caller_id"), r.get("business"))
            return
        lead_id = r.get("lead_id") or self.lead_for_call(r["call_sid"])
        if lead_id is None:
            raise LookupError(f"spilled {r['kind']} for call {r['call_sid']} has no lead")
        if r["kind"] == "field":
            self._update_field(lead_id, r["field"], r.get("value"), bool(r.get("confirmed")))
        else:
            self._update_status(lead_id, r["status"])

    def lead_for_call(self, call_sid: str) -> int | None:
        row = self._x("SELECT max(id) FROM leads WHERE call_sid = ?", (call_sid,)).fetchone()
        return row[0] if row else None

    # -- writes ---------------------------------------------------------------------------------------------
    def start(self, call_sid: str, caller_id: str | None, business: str | None) -> int:
        return self.retrying(self._in_tx, self._insert_lead, call_sid, caller_id, business)

    def _in_tx(self, write: Callable[..., T], *args: Any) -> T:
        with self._tx():
            return write(*args)

    def _insert_lead(self, call_sid: str, caller_id: str | None, business: str | None) -> int:
        now = time.time()
        row = self._x(
            "INSERT INTO leads (call_sid, caller_id, business, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (call_sid, caller_id, business, now, now),
        ).fetchone()
        lead_id = int(row[0])
        self._event(lead_id, "start", None, caller_id)
        return lead_id

    def set_field(self, lead_id: int, name: str, value: str | None, confirmed: bool) -> None:
        self.retrying(self._in_tx, self._update_field, lead_id, name, value, confirmed)

    def _update_field(self, lead_id: int, name: str, value: str | None, confirmed: bool) -> None:
        fields, done = self._load(lead_id)
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
        done = sorted((set(done) | {name}) if confirmed else (set(done) - {name}))
        status = "partial"
        self._x(
            "UPDATE leads SET fields = ?, confirmed = ?, status = ?, updated_at = ? WHERE id = ?",
            (json.dumps(fields, ensure_ascii=False), json.dumps(done), status, time.time(), lead_id),
        )
        self._event(lead_id, "confirm" if confirmed else ("clear" if value is None else "set"), name, value)

    def set_status(self, lead_id: int, status: str) -> None:
        self.retrying(self._in_tx, self._update_status, lead_id, status)

    def _update_status(self, lead_id: int, status: str) -> None:
        self._x("UPDATE leads SET status = ?, updated_at = ? WHERE id = ?", (status, time.time(), lead_id))
        self._event(lead_id, "status", None, status)

    def get(self, lead_id: int) -> Lead:
        row = self._x("SELECT * FROM leads WHERE id = ?", (lead_id,)).fetchone()
        return _lead(row)

    def leads(self, status: str | None = None) -> list[Lead]:
        query = "SELECT * FROM leads" + (" WHERE status = ?" if status else "") + " ORDER BY id"
        return [_lead(r) for r in self._x(query, (status,) if status else ())]

    def events(self, lead_id: int) -> list[tuple[str, str | None, str | None]]:
        return list(
            self._x("SELECT kind, field, value FROM lead_events WHERE lead_id = ? ORDER BY id", (lead_id,))
        )

    def _load(self, lead_id: int) -> tuple[dict[str, str], list[str]]:
        row = self._x("SELECT fields, confirmed FROM leads WHERE id = ?", (lead_id,)).fetchone()
        if row is None:
            raise KeyError(f"no lead {lead_id}")
        return json.loads(row[0]), json.loads(row[1])

    def _event(self, lead_id: int, kind: str, name: str | None, value: str | None) -> None:
        self._x(
            "INSERT INTO lead_events (lead_id, at, kind, field, value) VALUES (?, ?, ?, ?, ?)",
            (lead_id, time.time(), kind, name, value),
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self, self.BEGIN)

    BEGIN = "BEGIN IMMEDIATE"  # SQLite: take the write lock now, not halfway through


class _Transaction:
    def __init__(self, store: LeadStore, begin: str) -> None:
        self.store, self.begin = store, begin

    def __enter__(self) -> None:
        self.store._x(self.begin)

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.store._x("ROLLBACK" if exc_type else "COMMIT")


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


PG_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS leads (
    id BIGSERIAL PRIMARY KEY,
    call_sid TEXT NOT NULL,
    caller_id TEXT,
    business TEXT,
    status TEXT NOT NULL DEFAULT 'partial' CHECK (status IN ('partial', 'confirmed', 'abandoned')),
    fields TEXT NOT NULL DEFAULT '{}',
    confirmed TEXT NOT NULL DEFAULT '[]',
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS lead_events (
    id BIGSERIAL PRIMARY KEY,
    lead_id BIGINT NOT NULL REFERENCES leads(id),
    at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    field TEXT,
    value TEXT
)""",
    "CREATE INDEX IF NOT EXISTS leads_status ON leads(status)",
)


class PgLeadStore(LeadStore):
    """The same leads in PostgreSQL (psycopg 3), for several servers behind one number. A connection
    that is lost or refused is retried like SQLite's lock, then writes spill beside the server's working
    directory (`fastgate-leads-<db>.pending`) and are replayed in order."""

    BEGIN = "BEGIN"

    def __init__(self, url: str, *, retry_seconds: float = 30.0, busy_ms: int = 2000) -> None:
        import psycopg

        self._psycopg = psycopg
        self.url = url
        name = re.sub(r"[^A-Za-z0-9]+", "-", url.rsplit("/", 1)[-1].split("?")[0]) or "postgres"
        super().__init__(f"fastgate-leads-{name}", retry_seconds=retry_seconds, busy_ms=busy_ms)

    def _connect(self) -> None:
        self.db = self._psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        self.db.execute(f"SET lock_timeout = {int(self.busy_ms)}")
        self.db.execute("SELECT pg_advisory_lock(7317)")  # one schema creation at a time across servers
        try:
            for statement in PG_SCHEMA:
                self.db.execute(statement)
        finally:
            self.db.execute("SELECT pg_advisory_unlock(7317)")

    def _x(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        return self.db.execute(query.replace("?", "%s"), params)

    def retryable(self, exc: BaseException) -> bool:
        errors = self._psycopg.errors
        return isinstance(exc, self._psycopg.OperationalError | errors.LockNotAvailable)

    def _recover(self) -> None:
        if self.db is None or self.db.closed or self.db.broken:
            with contextlib.suppress(self._psycopg.OperationalError):  # still away: the next try says so
                self._connect()

    def close(self) -> None:
        self.db.close()


def open_store(db: str, **options: Any) -> LeadStore:
    """`postgresql://…` (or `postgres://…`): PostgreSQL; anything else: a SQLite file."""
    if db.startswith(("postgresql://", "postgres://")):
        return PgLeadStore(db, **options)
    return LeadStore(db, **options)
