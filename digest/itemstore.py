"""Collected feed items and the health of each feed, kept in the shared state database.

An item is stored once: a feed entry that comes back with the same guid, the
same canonical URL or the same content as one its feed gave before is a
duplicate and is ignored (the first telling is kept, so an issue built from it
stays the same). The same story from two different feeds is kept twice, because
the merge stage credits both outlets. Each feed's new items and its new state
are written in one transaction, so a crash loses at most the feed in flight.
Feeds that did not change hold nothing to lose, so their "still fine" marks are
written many feeds to a transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from digest.models import RawItem
from digest.store import Database


@dataclass(frozen=True)
class FeedState:
    """What the next request for a feed needs to know."""

    url: str
    fetch_url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    error_streak: int = 0
    next_retry: dt.datetime | None = None


@dataclass(frozen=True)
class FeedHealth:
    url: str
    fetch_url: str
    title: str | None
    last_success: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None
    error_streak: int
    next_retry: dt.datetime | None
    items_stored: int


@dataclass(frozen=True)
class NewItem:
    """A feed entry ready to store: the raw item plus the keys that spot it again."""

    guid: str
    canonical_url: str | None
    content_hash: str
    published: dt.datetime | None
    raw: RawItem


@dataclass(frozen=True)
class StoredItem:
    source_url: str
    first_seen: dt.datetime
    published: dt.datetime | None
    raw: RawItem


class ItemStore(Protocol):
    def state(self, url: str) -> FeedState: ...

    def states(self, urls: Iterable[str]) -> dict[str, FeedState]:
        """The state of each of these feeds, in one query (unknown feeds get a fresh one)."""
        ...

    def known_guids(self, url: str, guids: Iterable[str]) -> set[str]:
        """Which of these guids the feed has already given."""
        ...

    def record_items(
        self,
        url: str,
        items: Sequence[NewItem],
        now: dt.datetime,
        *,
        fetch_url: str,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        title: str | None,
        warning: str | None = None,
    ) -> int:
        """Store the feed's new items and its success; returns how many were new."""
        ...

    def record_not_modified(self, url: str, now: dt.datetime, fetch_url: str) -> None: ...

    def record_many_not_modified(self, feeds: Sequence[tuple[str, str]], now: dt.datetime) -> None:
        """`record_not_modified` for many (url, fetch_url) pairs in one transaction."""
        ...

    def record_failure(
        self, url: str, error: str, now: dt.datetime, retry_at: dt.datetime | None
    ) -> None: ...

    def health(self) -> list[FeedHealth]: ...

    def items(
        self, urls: Iterable[str], seen_after: dt.datetime, seen_until: dt.datetime
    ) -> list[StoredItem]:
        """Items of these feeds first seen in (seen_after, seen_until], oldest first."""
        ...

    def issue_cutoff(self, date: dt.date) -> dt.datetime | None:
        """The collection time the issue of `date` was first built with."""
        ...

    def record_issue_cutoff(self, date: dt.date, cutoff: dt.datetime) -> None: ...


ITEMS_SCHEMA = [
    """
    CREATE TABLE feed_sources (
        url TEXT PRIMARY KEY,
        fetch_url TEXT NOT NULL,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        last_success TEXT,
        last_error TEXT,
        last_error_at TEXT,
        error_streak INTEGER NOT NULL DEFAULT 0,
        next_retry TEXT
    );
    CREATE TABLE feed_items (
        id INTEGER PRIMARY KEY,
        source_url TEXT NOT NULL REFERENCES feed_sources (url),
        guid TEXT NOT NULL,
        canonical_url TEXT,
        content_hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        published TEXT,
        origin TEXT NOT NULL,
        source_name TEXT NOT NULL,
        text TEXT NOT NULL,
        format TEXT NOT NULL,
        meta TEXT NOT NULL,
        weight REAL NOT NULL,
        theme_hint TEXT,
        UNIQUE (source_url, guid),
        UNIQUE (source_url, canonical_url),
        UNIQUE (source_url, content_hash)
    );
    CREATE INDEX feed_items_by_first_seen ON feed_items (first_seen);
    CREATE TABLE issue_cutoffs (
        issue_date TEXT PRIMARY KEY,
        cutoff TEXT NOT NULL
    )
    """,
]


# One encoder for every row: json.dumps with options builds a new one per call.
_meta_json = json.JSONEncoder(ensure_ascii=False).encode


def _when(moment: dt.datetime | None) -> str | None:
    """UTC, one fixed format, so that text order is time order."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _moment(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


class SQLiteItemStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        database.migrate("items", ITEMS_SCHEMA)

    def state(self, url: str) -> FeedState:
        row = self.database.db.execute(
            "SELECT fetch_url, etag, last_modified, body_hash, error_streak, next_retry"
            " FROM feed_sources WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None:
            return FeedState(url=url, fetch_url=url)
        return FeedState(url, row[0], row[1], row[2], row[3], row[4], _moment(row[5]))

    def states(self, urls: Iterable[str]) -> dict[str, FeedState]:
        found = {url: FeedState(url=url, fetch_url=url) for url in urls}
        rows = self.database.db.execute(
            "SELECT url, fetch_url, etag, last_modified, body_hash, error_streak, next_retry"
            " FROM feed_sources"
        )
        for r in rows:
            if r[0] in found:
                found[r[0]] = FeedState(r[0], r[1], r[2], r[3], r[4], r[5], _moment(r[6]))
        return found

    def known_guids(self, url: str, guids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(guids))
        known: set[str] = set()
        for start in range(0, len(wanted), 500):  # SQLite caps the parameters of a query
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.database.db.execute(
                f"SELECT guid FROM feed_items WHERE source_url = ? AND guid IN ({marks})",
                (url, *chunk),
            )
            known.update(row[0] for row in rows)
        return known

    def _ensure(self, url: str) -> None:
        self.database.db.execute(
            "INSERT OR IGNORE INTO feed_sources (url, fetch_url) VALUES (?, ?)", (url, url)
        )

    def record_items(
        self,
        url: str,
        items: Sequence[NewItem],
        now: dt.datetime,
        *,
        fetch_url: str,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        title: str | None,
        warning: str | None = None,
    ) -> int:
        seen = _when(now)
        with self.database.transaction() as db:
            self._ensure(url)
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO feed_items (source_url, guid, canonical_url,"
                " content_hash, first_seen, published, origin, source_name, text, format,"
                " meta, weight, theme_hint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        url,
                        item.guid,
                        item.canonical_url,
                        item.content_hash,
                        seen,
                        _when(item.published),
                        item.raw.origin,
                        item.raw.source_name,
                        item.raw.text,
                        item.raw.format,
                        _meta_json(item.raw.meta),
                        item.raw.weight,
                        item.raw.theme_hint,
                    )
                    for item in items
                ],
            )
            new = db.total_changes - before
            db.execute(
                "UPDATE feed_sources SET fetch_url = ?, etag = ?, last_modified = ?,"
                " body_hash = ?, title = COALESCE(?, title), last_success = ?,"
                " last_error = ?,"
                " last_error_at = CASE WHEN ? IS NULL THEN last_error_at ELSE ? END,"
                " error_streak = 0, next_retry = NULL WHERE url = ?",
                (
                    fetch_url,
                    etag,
                    last_modified,
                    body_hash,
                    title,
                    seen,
                    warning,
                    warning,
                    seen,
                    url,
                ),
            )
        return new

    def record_not_modified(self, url: str, now: dt.datetime, fetch_url: str) -> None:
        self.record_many_not_modified([(url, fetch_url)], now)

    def record_many_not_modified(self, feeds: Sequence[tuple[str, str]], now: dt.datetime) -> None:
        if not feeds:
            return
        seen = _when(now)
        with self.database.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO feed_sources (url, fetch_url) VALUES (?, ?)",
                [(url, url) for url, _ in feeds],
            )
            db.executemany(
                "UPDATE feed_sources SET fetch_url = ?, last_success = ?, last_error = NULL,"
                " error_streak = 0, next_retry = NULL WHERE url = ?",
                [(fetch_url, seen, url) for url, fetch_url in feeds],
            )

    def record_failure(
        self, url: str, error: str, now: dt.datetime, retry_at: dt.datetime | None
    ) -> None:
        with self.database.transaction() as db:
            self._ensure(url)
            db.execute(
                "UPDATE feed_sources SET last_error = ?, last_error_at = ?,"
                " error_streak = error_streak + 1, next_retry = ? WHERE url = ?",
                (error, _when(now), _when(retry_at), url),
            )

    def health(self) -> list[FeedHealth]:
        rows = self.database.db.execute(
            "SELECT s.url, s.fetch_url, s.title, s.last_success, s.last_error, s.last_error_at,"
            " s.error_streak, s.next_retry, (SELECT COUNT(*) FROM feed_items i"
            " WHERE i.source_url = s.url) FROM feed_sources s ORDER BY s.url"
        ).fetchall()
        return [
            FeedHealth(
                url=r[0],
                fetch_url=r[1],
                title=r[2],
                last_success=_moment(r[3]),
                last_error=r[4],
                last_error_at=_moment(r[5]),
                error_streak=r[6],
                next_retry=_moment(r[7]),
                items_stored=r[8],
            )
            for r in rows
        ]

    def items(
        self, urls: Iterable[str], seen_after: dt.datetime, seen_until: dt.datetime
    ) -> list[StoredItem]:
        wanted = sorted(set(urls))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        rows = self.database.db.execute(
            "SELECT source_url, first_seen, published, origin, source_name, text, format, meta,"
            " weight, theme_hint FROM feed_items WHERE first_seen > ? AND first_seen <= ?"
            f" AND source_url IN ({marks}) ORDER BY first_seen, source_url, guid",
            (_when(seen_after), _when(seen_until), *wanted),
        ).fetchall()
        found = []
        for r in rows:
            first_seen = _moment(r[1])
            assert first_seen is not None
            meta = tuple((str(k), str(v)) for k, v in json.loads(r[7]))
            raw = RawItem(
                origin=r[3],
                source_name=r[4],
                text=r[5],
                format="markdown" if r[6] == "markdown" else "html",
                meta=meta,
                weight=r[8],
                theme_hint=r[9],
            )
            found.append(StoredItem(r[0], first_seen, _moment(r[2]), raw))
        return found

    def issue_cutoff(self, date: dt.date) -> dt.datetime | None:
        row = self.database.db.execute(
            "SELECT cutoff FROM issue_cutoffs WHERE issue_date = ?", (date.isoformat(),)
        ).fetchone()
        return _moment(row[0]) if row else None

    def record_issue_cutoff(self, date: dt.date, cutoff: dt.datetime) -> None:
        with self.database.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO issue_cutoffs (issue_date, cutoff) VALUES (?, ?)",
                (date.isoformat(), _when(cutoff)),
            )
