"""`fastgate-bridge leads`: list the leads, or export them as CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bridge.intake.store import Lead, open_store

COLUMNS = (
    "id",
    "status",
    "created",
    "call_sid",
    "caller_id",
    "service",
    "city",
    "name",
    "phone",
    "confirmed",
)


def _row(lead: Lead) -> dict[str, str]:
    created = datetime.fromtimestamp(lead.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "id": str(lead.id),
        "status": lead.status,
        "created": created,
        "call_sid": lead.call_sid,
        "caller_id": lead.caller_id or "",
        **{k: lead.fields.get(k, "") for k in ("service", "city", "name", "phone")},
        "confirmed": " ".join(lead.confirmed),
    }


def render(leads: list[Lead], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([lead.as_dict() for lead in leads], ensure_ascii=False, indent=2) + "\n"
    out = io.StringIO()
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(_row(lead) for lead in leads)
        return out.getvalue()
    for lead in leads:
        r = _row(lead)
        out.write(
            f"#{r['id']:<4} {r['status']:<9} {r['created']}  {r['service'] or '-'} | {r['city'] or '-'} | "
            f"{r['name'] or '-'} | {r['phone'] or '-'}  confirmed: {r['confirmed'] or '-'}\n"
        )
    return out.getvalue() or "no leads\n"


def show_leads(args: argparse.Namespace) -> int:
    postgres = args.db.startswith(("postgresql://", "postgres://"))
    if not postgres and not Path(args.db).exists():
        print(f"no lead database at {args.db}", file=sys.stderr)
        return 1
    store = open_store(args.db)
    try:
        text = render(store.leads(args.status), args.format)
    finally:
        store.close()
    if args.out:
        Path(args.out).write_text(text, "utf-8")
    else:
        sys.stdout.write(text)
    return 0
