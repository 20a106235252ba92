"""The state that outlives a run, in one SQLite file shared by every part.

Each part that keeps state (the issue history here; collected items, the send
log and the schedule elsewhere) owns its tables and its migrations, applies
them through `Database.migrate`, and sits behind a small Protocol, so that
PostgreSQL can replace SQLite later without touching the stages.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from digest.models import PublishedStory


class StateError(Exception):
    """The state file can't be used as it is: not SQLite, or tables digest didn't make."""


class Database:
    """One SQLite file: WAL so readers never block the writer, one transaction per change."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:  # the first statement that reads the file
            self.db.close()
            raise StateError(f"{path}: not a digest state database ({exc})") from exc
        # With WAL, NORMAL never corrupts the file and skips an fsync per commit; a power
        # cut can lose only the last commits, which the next collect fetches again.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component TEXT NOT NULL, step INTEGER NOT NULL, PRIMARY KEY (component, step))"
        )

    def migrate(self, component: str, steps: Sequence[str]) -> None:
        """Apply the component's schema steps it has not applied yet, each atomically.

        Steps are append-only: a released step is never edited, a change is a new step.
        """
        done = {
            row[0]
            for row in self.db.execute(
                "SELECT step FROM schema_migrations WHERE component = ?", (component,)
            )
        }
        newer = [step for step in done if step > len(steps)]
        if newer:
            raise RuntimeError(
                f"{self.path}: {component} schema step {max(newer)} is newer than this digest "
                f"understands ({len(steps)}); upgrade digest"
            )
        for number, sql in enumerate(steps, start=1):
            if number in done:
                continue
            with self.transaction() as db:
                for statement in _statements(sql):
                    try:
                        db.execute(statement)
                    except sqlite3.OperationalError as exc:  # rolled back whole
                        raise StateError(
                            f"{self.path}: cannot set up the {component} tables ({exc}): the "
                            "file holds tables digest did not make; point [state] path at "
                            "a new file, or move this one aside"
                        ) from exc
                db.execute(
                    "INSERT INTO schema_migrations (component, step) VALUES (?, ?)",
                    (component, number),
                )

    @contextmanager
    def transaction(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (Ctrl-C included).

        `durable`: the commit is on disk (fsync) before this returns, so it survives a
        power cut, and so does every commit before it (the WAL is written in order).
        """
        if durable:
            self.db.execute("PRAGMA synchronous=FULL")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        finally:
            if durable:
                self.db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        self.db.close()


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


class History(Protocol):
    """Which stories went out in which issue."""

    def issue_keys(self, date: dt.date) -> set[str]:
        """The keys recorded for the issue of `date` by an earlier build of it."""
        ...

    def published_before(self, keys: Iterable[str], date: dt.date) -> dict[str, dt.date]:
        """Of these keys, those published in an issue dated before `date`, with that date."""
        ...

    def stories_before(self, date: dt.date, days: int) -> list[PublishedStory]:
        """The stories of the issues dated in the `days` days before `date` that were
        first built before it: on a rebuild, an earlier date's issue built since does
        not count, so that the rebuild sees the history the first build saw."""
        ...

    def record_issue(
        self, date: dt.date, keys: Iterable[str], stories: Iterable[PublishedStory] = ()
    ) -> None:
        """Make `keys` and `stories` what the issue of `date` published."""
        ...


HISTORY_SCHEMA = [
    """
    CREATE TABLE published (
        key TEXT NOT NULL,
        issue_date TEXT NOT NULL,
        PRIMARY KEY (key, issue_date)
    );
    CREATE INDEX published_by_date ON published (issue_date)
    """,
    """
    CREATE TABLE published_stories (
        issue_date TEXT NOT NULL,
        story_id TEXT NOT NULL,
        title TEXT NOT NULL,
        words TEXT NOT NULL,
        outlets TEXT NOT NULL,
        PRIMARY KEY (issue_date, story_id)
    )
    """,
    "ALTER TABLE published_stories ADD COLUMN theme TEXT NOT NULL DEFAULT ''",
    # the order in which issues were first built; those built before this step, by date
    """
    CREATE TABLE issues (issue_date TEXT PRIMARY KEY, built INTEGER NOT NULL);
    INSERT INTO issues (issue_date, built)
        SELECT issue_date, ROW_NUMBER() OVER (ORDER BY issue_date)
        FROM (SELECT issue_date FROM published UNION SELECT issue_date FROM published_stories)
    """,
]


class SQLiteHistory:
    def __init__(self, database: Database) -> None:
        self.database = database
        database.migrate("history", HISTORY_SCHEMA)

    def issue_keys(self, date: dt.date) -> set[str]:
        rows = self.database.db.execute(
            "SELECT key FROM published WHERE issue_date = ?", (date.isoformat(),)
        ).fetchall()
        return {row[0] for row in rows}

    def published_before(self, keys: Iterable[str], date: dt.date) -> dict[str, dt.date]:
        found: dict[str, dt.date] = {}
        for key in keys:
            row = self.database.db.execute(
                "SELECT MIN(issue_date) FROM published WHERE key = ? AND issue_date < ?",
                (key, date.isoformat()),
            ).fetchone()
            if row and row[0]:
                found[key] = dt.date.fromisoformat(row[0])
        return found

    def stories_before(self, date: dt.date, days: int) -> list[PublishedStory]:
        rows = self.database.db.execute(
            "SELECT s.issue_date, story_id, title, words, outlets, theme"
            " FROM published_stories s JOIN issues i ON i.issue_date = s.issue_date"
            " WHERE s.issue_date < ? AND s.issue_date >= ?"
            " AND i.built < COALESCE((SELECT built FROM issues WHERE issue_date = ?), 1 << 62)"
            " ORDER BY s.issue_date, story_id",
            (date.isoformat(), (date - dt.timedelta(days=days)).isoformat(), date.isoformat()),
        ).fetchall()
        return [
            PublishedStory(
                issue_date=dt.date.fromisoformat(day),
                story_id=story_id,
                title=title,
                words=frozenset(words.split()),
                outlets=frozenset(o for o in outlets.split("\n") if o),
                theme=theme,
            )
            for day, story_id, title, words, outlets, theme in rows
        ]

    def record_issue(
        self, date: dt.date, keys: Iterable[str], stories: Iterable[PublishedStory] = ()
    ) -> None:
        day = date.isoformat()
        with self.database.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO issues (issue_date, built)"
                " SELECT ?, COALESCE(MAX(built), 0) + 1 FROM issues",
                (day,),
            )
            db.execute("DELETE FROM published WHERE issue_date = ?", (day,))
            db.execute("DELETE FROM published_stories WHERE issue_date = ?", (day,))
            db.executemany(
                "INSERT OR IGNORE INTO published (key, issue_date) VALUES (?, ?)",
                [(key, day) for key in sorted(set(keys))],
            )
            db.executemany(
                "INSERT OR REPLACE INTO published_stories"
                " (issue_date, story_id, title, words, outlets, theme) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        day,
                        s.story_id,
                        s.title,
                        " ".join(sorted(s.words)),
                        "\n".join(sorted(s.outlets)),
                        s.theme,
                    )
                    for s in stories
                ],
            )
