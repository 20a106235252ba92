"""Collect every enabled feed into the item store: fetch, parse, store, one feed at a time
per task and many tasks at once.

Fetching is I/O and runs concurrently on one event loop; parsing is CPU work and
runs in worker processes when there are enough feeds to pay for them; storing
is one transaction per feed on the loop's thread, so the store never sees half
a feed. Feeds that keep failing wait longer and longer before the next try.

Most feeds of a run have not changed, so that path costs as little as it can:
the states of all feeds are read in one query, a body whose hash is the one
stored is never parsed, and the "not modified" marks are written many feeds to
a transaction. Of a changed feed, only the entries whose guid is not stored yet
are turned into items.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Literal

from digest.config import Config, FetchSettings, Source
from digest.feeds import Entry, outlet_name, parse_feed
from digest.fetch import Fetched, Fetcher
from digest.fulltext import with_articles
from digest.itemstore import FeedState, ItemStore, NewItem
from digest.models import RawItem
from digest.tags import join_tags
from digest.urls import canonical_url, outlet_for

# Below this many feeds, starting worker processes costs more than it saves.
PROCESS_POOL_MIN_FEEDS = 16
# How many "not modified" marks wait before they are written in one transaction.
UNCHANGED_BATCH = 250

Status = Literal["fetched", "not_modified", "failed", "skipped"]


@dataclass(frozen=True)
class FeedOutcome:
    name: str
    url: str
    status: Status
    new_items: int = 0
    entries: int = 0
    message: str | None = None  # the error, a warning, or why it was skipped


@dataclass(frozen=True)
class CollectReport:
    outcomes: tuple[FeedOutcome, ...]
    seconds: float

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def new_items(self) -> int:
        return sum(o.new_items for o in self.outcomes)

    def summary(self) -> str:
        return (
            f"Collected {len(self.outcomes)} feeds in {self.seconds:.1f} s: "
            f"{self.count('fetched')} fetched, {self.count('not_modified')} not modified, "
            f"{self.count('failed')} failed, {self.count('skipped')} skipped; "
            f"{self.new_items} new items."
        )


def feed_sources(config: Config) -> list[Source]:
    return [s for s in config.sources if s.enabled and s.url is not None]


def collect(
    config: Config,
    store: ItemStore,
    now: dt.datetime,
    on_start: Callable[[int], None] | None = None,
    on_feed: Callable[[FeedOutcome], None] | None = None,
) -> CollectReport:
    """Fetch every enabled feed once and store what is new; Ctrl-C stops between feeds."""
    sources = feed_sources(config)
    if on_start:
        on_start(len(sources))
    loop_start = dt.datetime.now(dt.UTC)
    executor = _parser_pool(len(sources))
    try:
        since = now - dt.timedelta(days=config.build.window_days)  # older makes no issue
        outcomes = asyncio.run(
            _collect_all(config.fetch, sources, store, now, on_feed, executor, since)
        )
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    seconds = (dt.datetime.now(dt.UTC) - loop_start).total_seconds()
    return CollectReport(outcomes=tuple(outcomes), seconds=seconds)


async def _collect_all(
    settings: FetchSettings,
    sources: list[Source],
    store: ItemStore,
    now: dt.datetime,
    on_feed: Callable[[FeedOutcome], None] | None,
    executor: Executor,
    since: dt.datetime,
) -> list[FeedOutcome]:
    gate = asyncio.Semaphore(settings.concurrency)
    states = store.states(str(s.url) for s in sources)
    unchanged = UnchangedFeeds(store, now)
    try:
        async with Fetcher.client_for(settings) as client:
            fetcher = Fetcher(settings, client)

            async def one(source: Source) -> FeedOutcome:
                state = states[str(source.url)]
                async with gate:
                    try:
                        outcome = await _collect_one(
                            fetcher, executor, settings, source, state, store, unchanged, now, since
                        )
                    except Exception as exc:  # a bug or a feed nobody foresaw: one feed fails
                        streak = store.state(str(source.url)).error_streak
                        error = f"unexpected error: {exc!r}"
                        outcome = _failure(store, settings, source, streak, error, now)
                if on_feed:
                    on_feed(outcome)
                return outcome

            return list(await asyncio.gather(*(one(s) for s in sources)))
    finally:  # Ctrl-C included: the feeds already seen keep their marks
        unchanged.flush()


class UnchangedFeeds:
    """The "not modified" marks of a run, written a batch per transaction."""

    def __init__(self, store: ItemStore, now: dt.datetime) -> None:
        self.store = store
        self.now = now
        self.pending: list[tuple[str, str]] = []

    def add(self, url: str, fetch_url: str) -> None:
        self.pending.append((url, fetch_url))
        if len(self.pending) >= UNCHANGED_BATCH:
            self.flush()

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        self.store.record_many_not_modified(batch, self.now)


async def _collect_one(
    fetcher: Fetcher,
    executor: Executor,
    settings: FetchSettings,
    source: Source,
    state: FeedState,
    store: ItemStore,
    unchanged: UnchangedFeeds,
    now: dt.datetime,
    since: dt.datetime,
) -> FeedOutcome:
    assert source.url is not None
    url = source.url
    if state.next_retry is not None and state.next_retry > now:
        when = state.next_retry.strftime("%Y-%m-%d %H:%M UTC")
        why = f"failed {state.error_streak} times in a row; next try after {when}"
        return FeedOutcome(source.name, url, "skipped", message=why)

    fetched = await fetcher.fetch(state.fetch_url, state.etag, state.last_modified)
    fetch_url = fetched.moved_to or state.fetch_url
    if fetched.status == "failed":
        return _failure(store, settings, source, state.error_streak, fetched.error, now)
    if fetched.status == "not_modified":
        unchanged.add(url, fetch_url)
        return FeedOutcome(source.name, url, "not_modified", message=_moved(fetched))

    body_hash = hashlib.sha256(fetched.body).hexdigest()
    if body_hash == state.body_hash:  # a server without validators, unchanged: not parsed
        unchanged.add(url, fetch_url)
        return FeedOutcome(source.name, url, "not_modified", message=_moved(fetched))
    args = (fetched.body, fetched.header("content-type"), fetched.final_url, settings.max_bytes)
    try:
        parsed = await asyncio.get_running_loop().run_in_executor(executor, parse_feed, *args)
    except BrokenProcessPool:  # a worker died (killed, out of memory): parse here instead
        parsed = parse_feed(*args)
    if parsed.fatal:
        return _failure(store, settings, source, state.error_streak, parsed.problem, now)
    known = store.known_guids(url, (entry.guid for entry in parsed.entries))
    items = [new_item(source, parsed.title, e) for e in parsed.entries if e.guid not in known]
    pages = None
    if source.full_text and items:
        items, pages = await with_articles(fetcher, executor, items, since)
    warning = "; ".join(m for m in (parsed.problem, pages) if m) or None  # in its health too
    new = store.record_items(
        url,
        items,
        now,
        fetch_url=fetch_url,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        body_hash=body_hash,
        title=parsed.title,
        warning=warning,
    )
    message = "; ".join(m for m in (warning, _moved(fetched)) if m) or None
    return FeedOutcome(source.name, url, "fetched", new, len(parsed.entries), message)


def _failure(
    store: ItemStore,
    settings: FetchSettings,
    source: Source,
    streak: int,
    error: str | None,
    now: dt.datetime,
) -> FeedOutcome:
    assert source.url is not None
    reason = error or "unknown error"
    retry_at = next_retry(settings, streak + 1, now)
    store.record_failure(source.url, reason, now, retry_at)
    return FeedOutcome(source.name, source.url, "failed", message=reason)


def next_retry(settings: FetchSettings, streak: int, now: dt.datetime) -> dt.datetime | None:
    """No wait after one failure; then the wait doubles, up to the configured ceiling."""
    if streak < 2 or settings.backoff_minutes <= 0:
        return None
    minutes = settings.backoff_minutes * 2 ** (streak - 2)
    return now + min(dt.timedelta(minutes=minutes), dt.timedelta(hours=settings.backoff_max_hours))


def _moved(fetched: Fetched) -> str | None:
    return f"moved permanently to {fetched.moved_to}" if fetched.moved_to else None


def new_item(source: Source, feed_title: str | None, entry: Entry) -> NewItem:
    """A feed entry as the raw item the cleaner reads, with the keys that spot it again."""
    assert source.url is not None
    named = source.name != source.url  # the config gave a display name
    from_feed = outlet_name(feed_title) if feed_title else None
    outlet = source.name if named else from_feed or outlet_for(entry.url or source.url)
    meta = {"guid": entry.guid, "feed": source.url, "source": outlet}
    if entry.title:
        meta["title"] = entry.title
    if entry.url:
        meta["url"] = entry.url
    if entry.published:
        meta["date"] = entry.published
    if entry.author:
        meta["author"] = entry.author
    if entry.tags:
        meta["tags"] = join_tags(entry.tags)
    raw = RawItem(
        origin=entry.url or f"{source.url}#{entry.guid}",
        source_name=source.name,
        text=entry.html,
        format="html",
        meta=tuple(sorted(meta.items())),
        weight=source.weight,
        theme_hint=source.theme,
    )
    content = hashlib.sha256(f"{entry.title}\n{entry.html}".encode()).hexdigest()
    published = dt.datetime.fromisoformat(entry.published) if entry.published else None
    return NewItem(
        guid=entry.guid,
        canonical_url=canonical_url(entry.url) if entry.url else None,
        content_hash=content,
        published=published,
        raw=raw,
    )


def _parser_pool(feeds: int) -> Executor:
    """Worker processes, forked and started before the event loop and its threads exist
    (forking a process that runs threads can deadlock the child)."""
    workers = os.cpu_count() or 1
    if feeds < PROCESS_POOL_MIN_FEEDS or workers < 2 or sys.platform == "win32":
        return ThreadPoolExecutor(max_workers=1)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_ignore_interrupts,
    )
    for started in [pool.submit(_ready) for _ in range(workers)]:
        started.result()
    return pool


def _ready() -> None:
    """A task that makes the pool start its workers now."""


def _ignore_interrupts() -> None:
    """Ctrl-C is the parent's to handle; workers just stop when it shuts the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
