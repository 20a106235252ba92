"""The state that outlives a build: which stories went out in which issue.

It sits behind the small `Store` protocol so that PostgreSQL can replace SQLite
later without touching the stages. SQLite here: one file, WAL, one transaction
per change, and a schema version so later releases can migrate it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

SCHEMA_VERSION = 1

_MIGRATIONS = {
    1: """
        CREATE TABLE published (
            key TEXT NOT NULL,
            issue_date TEXT NOT NULL,
            PRIMARY KEY (key, issue_date)
        );
        CREATE INDEX published_by_date ON published (issue_date);
    """,
}


class Store(Protocol):
    def issue_keys(self, date: dt.date) -> set[str]:
        """The keys recorded for the issue of `date` by an earlier build of it."""
        ...

    def published_before(self, keys: Iterable[str], date: dt.date) -> dict[str, dt.date]:
        """Of these keys, those published in an issue dated before `date`, with that date."""
        ...

    def record_issue(self, date: dt.date, keys: Iterable[str]) -> None:
        """Make `keys` the stories published in the issue of `date`."""
        ...

    def close(self) -> None: ...


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path}: state schema v{version} is newer than this digest"
                f" understands (v{SCHEMA_VERSION}); upgrade digest"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            # executescript commits on its own, so the script carries its transaction.
            self.db.executescript(
                f"BEGIN IMMEDIATE; {_MIGRATIONS[target]} PRAGMA user_version = {target}; COMMIT;"
            )

    def _transaction(self) -> _Commit:
        self.db.execute("BEGIN IMMEDIATE")
        return _Commit(self.db)

    def issue_keys(self, date: dt.date) -> set[str]:
        rows = self.db.execute(
            "SELECT key FROM published WHERE issue_date = ?", (date.isoformat(),)
        ).fetchall()
        return {row[0] for row in rows}

    def published_before(self, keys: Iterable[str], date: dt.date) -> dict[str, dt.date]:
        found: dict[str, dt.date] = {}
        day = date.isoformat()
        for key in keys:
            row = self.db.execute(
                "SELECT MIN(issue_date) FROM published WHERE key = ? AND issue_date < ?",
                (key, day),
            ).fetchone()
            if row and row[0]:
                found[key] = dt.date.fromisoformat(row[0])
        return found

    def record_issue(self, date: dt.date, keys: Iterable[str]) -> None:
        day = date.isoformat()
        with self._transaction():
            self.db.execute("DELETE FROM published WHERE issue_date = ?", (day,))
            self.db.executemany(
                "INSERT OR IGNORE INTO published (key, issue_date) VALUES (?, ?)",
                [(key, day) for key in sorted(set(keys))],
            )

    def close(self) -> None:
        self.db.close()


class _Commit:
    """BEGIN was issued; commit on success, roll back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
