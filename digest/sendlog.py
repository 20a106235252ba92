"""The send log: for each (issue date, reader), whether the issue went out.

One row per reader per issue, in the shared state database, moving through

    pending ──> sending ──> sent
       ^           │  └───> failed      (5xx: the server refused for good)
       └───────────┘                    (4xx or a dropped connection before the
                                          message was handed over: try again)

Each step is its own committed transaction. A row becomes `sending` just before
the message is handed over for good (for SMTP: after the server's 354 to DATA,
before the body and its final dot), and becomes `sent` or `failed` as soon as
the server answers. A crash or a dropped connection at any other point leaves
the row `pending`, and the next run sends it; nobody already `sent` is sent to
again.

The one window no client can close is between "the server has the final dot"
and "we have committed its answer": the server may have accepted the message
while we never learned it (the connection dropped before the reply, the
machine lost power, kill -9). A row left `sending` means exactly that:
*in doubt*. We choose **at-most-once** for it: a row in doubt is never sent
again on its own; `digest send --status` lists it and `digest send
--resend-in-doubt` sends it again when a person decides a duplicate is better
than a gap. Ctrl-C cannot open that window: it is held back while a message is
in flight and takes effect once the answer is recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from digest.store import Database

State = Literal["pending", "sending", "sent", "failed"]
STATES: tuple[State, ...] = ("pending", "sending", "sent", "failed")


@dataclass(frozen=True)
class SendRecord:
    """One reader's row for one issue."""

    issue_date: dt.date
    recipient: str
    state: State
    attempts: int
    reply: str
    message_id: str
    created: str
    updated: str


class SendLog(Protocol):
    """What was sent to whom; every change is committed before the caller goes on."""

    def enqueue(self, date: dt.date, recipients: Iterable[str], now: dt.datetime) -> None:
        """Add a `pending` row for each recipient the issue has no row for yet."""
        ...

    def states(self, date: dt.date) -> dict[str, State]:
        """Every recipient of the issue with its state."""
        ...

    def begin(self, date: dt.date, recipient: str, message_id: str, now: dt.datetime) -> None:
        """`pending` -> `sending`, one more attempt: the message is about to be handed over."""
        ...

    def finish(
        self, date: dt.date, recipient: str, state: State, reply: str, now: dt.datetime
    ) -> None:
        """Record the outcome: `sent`, `failed`, `pending` (try again) or `sending` (in doubt)."""
        ...

    def requeue_in_doubt(self, date: dt.date, now: dt.datetime) -> int:
        """Every `sending` row of the issue back to `pending`; how many there were."""
        ...

    def records(self, date: dt.date) -> list[SendRecord]:
        """The issue's rows, by state then recipient."""
        ...


SENDLOG_SCHEMA = [
    """
    CREATE TABLE send_log (
        issue_date TEXT NOT NULL,
        recipient TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        reply TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (issue_date, recipient)
    );
    CREATE INDEX send_log_by_state ON send_log (issue_date, state)
    """,
]


class SQLiteSendLog:
    def __init__(self, database: Database) -> None:
        self.database = database
        database.migrate("sendlog", SENDLOG_SCHEMA)

    def enqueue(self, date: dt.date, recipients: Iterable[str], now: dt.datetime) -> None:
        stamp = _stamp(now)
        with self.database.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO send_log (issue_date, recipient, created, updated)"
                " VALUES (?, ?, ?, ?)",
                ((date.isoformat(), r, stamp, stamp) for r in recipients),
            )

    def states(self, date: dt.date) -> dict[str, State]:
        rows = self.database.db.execute(
            "SELECT recipient, state FROM send_log WHERE issue_date = ?", (date.isoformat(),)
        )
        return {row[0]: row[1] for row in rows}

    def begin(self, date: dt.date, recipient: str, message_id: str, now: dt.datetime) -> None:
        with self.database.transaction() as db:
            changed = db.execute(
                "UPDATE send_log SET state = 'sending', attempts = attempts + 1,"
                " message_id = ?, updated = ?"
                " WHERE issue_date = ? AND recipient = ? AND state = 'pending'",
                (message_id, _stamp(now), date.isoformat(), recipient),
            ).rowcount
            if changed != 1:
                # Another run took this reader, or it is no longer pending: never send twice.
                raise RuntimeError(f"send log: {recipient} is not pending for the {date} issue")

    def finish(
        self, date: dt.date, recipient: str, state: State, reply: str, now: dt.datetime
    ) -> None:
        with self.database.transaction() as db:
            db.execute(
                "UPDATE send_log SET state = ?, reply = ?, updated = ?"
                " WHERE issue_date = ? AND recipient = ?",
                (state, reply, _stamp(now), date.isoformat(), recipient),
            )

    def requeue_in_doubt(self, date: dt.date, now: dt.datetime) -> int:
        with self.database.transaction() as db:
            return db.execute(
                "UPDATE send_log SET state = 'pending', updated = ?"
                " WHERE issue_date = ? AND state = 'sending'",
                (_stamp(now), date.isoformat()),
            ).rowcount

    def records(self, date: dt.date) -> list[SendRecord]:
        rows = self.database.db.execute(
            "SELECT issue_date, recipient, state, attempts, reply, message_id, created, updated"
            " FROM send_log WHERE issue_date = ? ORDER BY state, recipient",
            (date.isoformat(),),
        ).fetchall()
        return [_record(row) for row in rows]


def _record(row: Sequence[object]) -> SendRecord:
    date, recipient, state, attempts, reply, message_id, created, updated = row
    return SendRecord(
        issue_date=dt.date.fromisoformat(str(date)),
        recipient=str(recipient),
        state=state,  # type: ignore[arg-type]
        attempts=int(str(attempts)),
        reply=str(reply),
        message_id=str(message_id),
        created=str(created),
        updated=str(updated),
    )


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")
