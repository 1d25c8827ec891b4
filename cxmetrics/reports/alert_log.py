"""The record of alerts owed and sent (the contract's ``alert_deliveries`` table).

A delivery is one finding for one recipient on one channel. :func:`record_owed` writes the
new ones as "owed" before anything is sent; :func:`mark` turns them "sent" once the server
accepted the message, or counts the failed attempt and keeps them owed. Because the key of
a row is (finding key, recipient, channel), a finding already recorded is never recorded
(nor sent) again, and what is owed survives a failed run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from cxmetrics.contract import schema

T = schema.alert_deliveries


@dataclass(frozen=True)
class Delivery:
    """One finding for one recipient on one channel. ``content`` is what the message
    says about the finding (JSON-able: sentence, effect, interval, n, role, link …)."""

    finding_key: str
    recipient: str
    channel: str
    kind: str
    period_start: dt.date
    period_end: dt.date
    role: str
    content: dict

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.finding_key, self.recipient, self.channel)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def ensure(engine: sa.Engine) -> None:
    T.create(engine, checkfirst=True)


def known(engine: sa.Engine) -> dict[tuple[str, str, str], str]:
    """Every recorded (finding key, recipient, channel) with its status."""
    if not sa.inspect(engine).has_table(T.name):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T.c.finding_key, T.c.recipient, T.c.channel, T.c.status))
        return {(r[0], r[1], r[2]): r[3] for r in rows}


def record_owed(engine: sa.Engine, deliveries: Iterable[Delivery]) -> int:
    """Write the deliveries not yet recorded as owed, in one transaction; returns how many."""
    ensure(engine)
    seen = known(engine)
    now = _now()
    rows = []
    for d in deliveries:
        if d.key in seen:
            continue
        seen[d.key] = "owed"
        rows.append(
            {
                "finding_key": d.finding_key,
                "recipient": d.recipient,
                "channel": d.channel,
                "kind": d.kind,
                "period_start": d.period_start,
                "period_end": d.period_end,
                "role": d.role,
                "content": json.dumps(d.content, sort_keys=True),
                "status": "owed",
                "attempts": 0,
                "last_error": None,
                "created_at": now,
                "updated_at": now,
                "sent_at": None,
            }
        )
    if rows:
        with engine.begin() as conn:
            conn.execute(T.insert(), rows)
    return len(rows)


def owed(engine: sa.Engine) -> list[Delivery]:
    """Every delivery still owed, oldest period first."""
    if not sa.inspect(engine).has_table(T.name):
        return []
    stmt = (
        sa.select(T)
        .where(T.c.status == "owed")
        .order_by(T.c.period_start, T.c.recipient, T.c.finding_key)
    )
    with engine.connect() as conn:
        return [
            Delivery(
                r.finding_key,
                r.recipient,
                r.channel,
                r.kind,
                _day(r.period_start),
                _day(r.period_end),
                r.role,
                json.loads(r.content),
            )
            for r in conn.execute(stmt)
        ]


def mark(
    engine: sa.Engine, keys: Iterable[tuple[str, str, str]], attempts: int, error: str | None
) -> None:
    """Record a delivery attempt of these rows: sent when ``error`` is None, else still owed
    with the error kept."""
    now = _now()
    values = {
        "attempts": T.c.attempts + attempts,
        "last_error": error,
        "updated_at": now,
    }
    if error is None:
        values |= {"status": "sent", "sent_at": now}
    with engine.begin() as conn:
        for finding_key, recipient, channel in keys:
            conn.execute(
                T.update()
                .where(
                    T.c.finding_key == finding_key,
                    T.c.recipient == recipient,
                    T.c.channel == channel,
                )
                .values(**values)
            )


def history(engine: sa.Engine, limit: int = 1000) -> pl.DataFrame:
    """What went to whom (newest first), for the Data page: one row per delivery."""
    columns = {
        "updated_at": pl.Datetime,
        "recipient": pl.String,
        "channel": pl.String,
        "status": pl.String,
        "role": pl.String,
        "kind": pl.String,
        "finding": pl.String,
        "period_start": pl.Date,
        "period_end": pl.Date,
        "attempts": pl.Int64,
        "last_error": pl.String,
        "sent_at": pl.Datetime,
    }
    if not sa.inspect(engine).has_table(T.name):
        return pl.DataFrame(schema=columns)
    stmt = sa.select(T).order_by(T.c.updated_at.desc(), T.c.recipient).limit(limit)
    with engine.connect() as conn:
        rows = [
            {
                "updated_at": r.updated_at,
                "recipient": r.recipient,
                "channel": r.channel,
                "status": r.status,
                "role": r.role,
                "kind": r.kind,
                "finding": json.loads(r.content).get("sentence", ""),
                "period_start": _day(r.period_start),
                "period_end": _day(r.period_end),
                "attempts": r.attempts,
                "last_error": r.last_error,
                "sent_at": r.sent_at,
            }
            for r in conn.execute(stmt)
        ]
    return pl.DataFrame(rows, schema=columns)


def _day(value) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value
