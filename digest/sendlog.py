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

What reaches the disk when. The database runs in WAL mode with synchronous=NORMAL:
a commit is in the operating system's hands at once, so it survives the process
crashing or being killed, but reaches the disk (fsync) only at checkpoints. A
power cut or kernel crash can lose the commits since the last sync, and a lost
`sending` mark would turn a reader whose message already left back into
`pending`: sent twice. So `begin` syncs its commit (and, the WAL being written
in order, every commit before it) whenever `sync_interval` seconds have passed
since the last sync: a power cut can duplicate at most the last `sync_interval`
seconds of sending. With 0, every `sending` mark is synced before its message
leaves and a power cut duplicates nobody (a lost outcome leaves its reader
`sending`, in doubt), at one fsync per message: milliseconds on many disks,
which is why it is not the default. Outcomes are never synced on their own.

None of the per-reader bookkeeping (who is pending, in which order) is kept in
memory: this run's readers are a temporary table filled from the recipient
list as it is read, so memory does not grow with the number of readers.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from digest.recipients import Recipient
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
    """What was sent to whom; every change is committed before the caller goes on.

    `enqueue` names the readers of a run; `counts`, `pending` and `problems`
    are about them alone, whatever else the issue's log holds.
    """

    def enqueue(self, date: dt.date, recipients: Iterable[Recipient], now: dt.datetime) -> int:
        """Make `recipients` (the first of each address, in order) this run's readers, and
        add a `pending` row for each the issue has no row for yet; how many readers there are.

        All or nothing: if reading `recipients` raises (a bad address), nothing is added.
        """
        ...

    def counts(self, date: dt.date) -> dict[State, int]:
        """How many of this run's readers are in each state."""
        ...

    def pending(self, date: dt.date, after: int, limit: int) -> list[tuple[int, Recipient]]:
        """Up to `limit` of this run's `pending` readers past position `after`, in order."""
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

    def problems(self, date: dt.date) -> list[SendRecord]:
        """This run's readers the issue has not (surely) reached, by state then recipient."""
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


# This run's readers, in the order given: temporary, so it lives and dies with the connection.
RUN_TABLE = """
    CREATE TEMP TABLE IF NOT EXISTS send_run (
        position INTEGER PRIMARY KEY,
        recipient TEXT NOT NULL UNIQUE,
        address TEXT NOT NULL,
        display TEXT NOT NULL
    )
"""

_COLUMNS = (
    "l.issue_date, l.recipient, l.state, l.attempts, l.reply, l.message_id, l.created, l.updated"
)
_OF_RUN = (
    " FROM temp.send_run AS r JOIN send_log AS l ON l.issue_date = ? AND l.recipient = r.recipient"
)


class SQLiteSendLog:
    """`sync_interval`: at most this many seconds between `sending` marks synced to disk."""

    def __init__(self, database: Database, sync_interval: float = 1.0) -> None:
        self.database = database
        self.sync_interval = sync_interval
        self._synced = -math.inf
        database.migrate("sendlog", SENDLOG_SCHEMA)

    def enqueue(self, date: dt.date, recipients: Iterable[Recipient], now: dt.datetime) -> int:
        stamp = _stamp(now)
        with self.database.transaction() as db:
            db.execute(RUN_TABLE)
            db.execute("DELETE FROM temp.send_run")
            db.executemany(
                "INSERT OR IGNORE INTO temp.send_run (recipient, address, display)"
                " VALUES (?, ?, ?)",
                ((r.key, r.address, r.to) for r in recipients),
            )
            db.execute(
                "INSERT OR IGNORE INTO send_log (issue_date, recipient, created, updated)"
                " SELECT ?, recipient, ?, ? FROM temp.send_run ORDER BY position",
                (date.isoformat(), stamp, stamp),
            )
            count: int = db.execute("SELECT count(*) FROM temp.send_run").fetchone()[0]
        return count

    def counts(self, date: dt.date) -> dict[State, int]:
        found: dict[State, int] = dict.fromkeys(STATES, 0)
        rows = self.database.db.execute(
            f"SELECT l.state, count(*){_OF_RUN} GROUP BY l.state", (date.isoformat(),)
        )
        for state, count in rows:
            found[state] = count
        return found

    def pending(self, date: dt.date, after: int, limit: int) -> list[tuple[int, Recipient]]:
        rows = self.database.db.execute(
            f"SELECT r.position, r.address, r.display{_OF_RUN}"
            " WHERE r.position > ? AND l.state = 'pending' ORDER BY r.position LIMIT ?",
            (date.isoformat(), after, limit),
        )
        return [(position, Recipient(address, display)) for position, address, display in rows]

    def begin(self, date: dt.date, recipient: str, message_id: str, now: dt.datetime) -> None:
        durable = time.monotonic() - self._synced >= self.sync_interval
        with self.database.transaction(durable=durable) as db:
            changed = db.execute(
                "UPDATE send_log SET state = 'sending', attempts = attempts + 1,"
                " message_id = ?, updated = ?"
                " WHERE issue_date = ? AND recipient = ? AND state = 'pending'",
                (message_id, _stamp(now), date.isoformat(), recipient),
            ).rowcount
            if changed != 1:
                # Another run took this reader, or it is no longer pending: never send twice.
                raise RuntimeError(f"send log: {recipient} is not pending for the {date} issue")
        if durable:
            self._synced = time.monotonic()

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

    def problems(self, date: dt.date) -> list[SendRecord]:
        rows = self.database.db.execute(
            f"SELECT {_COLUMNS}{_OF_RUN} WHERE l.state != 'sent' ORDER BY l.state, l.recipient",
            (date.isoformat(),),
        ).fetchall()
        return [_record(row) for row in rows]

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
