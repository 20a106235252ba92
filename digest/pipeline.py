"""The one function that wires the stages together.

read -> clean -> merge -> drop already published -> theme -> assemble -> render
-> write. A story is "already published" when an issue dated before this one
carried it; a story this date's issue carried before stays in it, so that
rebuilding an issue always gives the same files. The CLI, the scheduler and the
preview server all call `build`, so a scheduled and a previewed issue never differ.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from digest.archive import write_archive
from digest.assemble import assemble
from digest.clean import clean
from digest.config import Config
from digest.itemstore import ItemStore
from digest.merge import merge, story_keys
from digest.models import BuildReport, Issue, Item, Note, RawItem
from digest.output import write_issue
from digest.readers import read_local
from digest.render import render_issue
from digest.repeats import drop_repeats, published_record
from digest.store import History
from digest.themes import LEANING_DAYS, assign_all
from digest.window import Window, feed_raws, issue_window


@dataclass(frozen=True)
class BuildResult:
    issue: Issue
    folder: Path
    paths: tuple[Path, ...]


def collect_raw(config: Config, feeds_from_store: bool = False) -> tuple[list[RawItem], list[Note]]:
    """Every enabled local source's raw items; a broken source is a note, never a failure.

    Feed sources are read from the item store instead (see `make_issue`).
    """
    raws: list[RawItem] = []
    notes: list[Note] = []
    for source in config.sources:
        if not source.enabled:
            continue
        if source.path is None:
            if feeds_from_store:
                continue
            notes.append(
                Note(
                    "read",
                    source.location,
                    "feed sources are read from the item store, which this run has not "
                    "opened; skipped",
                )
            )
            continue
        result = read_local(source, config.root)
        raws.extend(result.items)
        notes.extend(result.notes)
    return raws, notes


def make_issue(
    config: Config,
    date: dt.date,
    history: History,
    store: ItemStore | None = None,
    window: Window | None = None,
) -> Issue:
    raws, warnings = collect_raw(config, feeds_from_store=store is not None)
    if store is not None and window is not None:
        feed_items, feed_notes = feed_raws(config, store, window)
        raws.extend(feed_items)
        warnings.extend(feed_notes)
    items: list[Item] = []
    corrections: list[Note] = []
    dropped: list[Note] = []
    for raw in raws:
        try:
            cleaned = clean(raw)
        except Exception as exc:  # one broken file must never break a build
            warnings.append(Note("clean", raw.origin, f"could not be cleaned: {exc!r}"))
            continue
        items.extend(cleaned.items)
        corrections.extend(cleaned.corrections)
        dropped.extend(cleaned.dropped)

    quotes = [i for i in items if i.kind == "quote"]
    merged = merge([i for i in items if i.kind != "quote"])
    kept = drop_repeats(merged.stories, history, date)
    dropped.extend(kept.dropped)
    past = history.stories_before(date, LEANING_DAYS)
    fresh = assign_all(list(kept.stories), config.themes, config.catch_all, past)

    report = BuildReport(
        corrections=tuple(corrections),
        dropped=tuple(dropped),
        merged=merged.notes,
        warnings=tuple(warnings),
    )
    return assemble(config, date, fresh, quotes, report)


def build(
    config: Config,
    date: dt.date,
    out: Path,
    history: History,
    store: ItemStore | None = None,
    now: dt.datetime | None = None,
) -> BuildResult:
    """Build and write the issue; with an item store, feed items collected by `now`
    (the first build's cutoff on a rebuild) join the local sources."""
    window = None
    if store is not None and now is not None:
        window = issue_window(config, date, now, store)
    issue = make_issue(config, date, history, store, window)
    rendered = render_issue(issue, config)
    folder = out / date.isoformat()
    paths = write_issue(
        folder,
        {
            "digest.html": rendered.html.encode(),
            "digest.txt": rendered.text.encode(),
            "digest.json": rendered.json.encode(),
            "digest.eml": rendered.eml,
        },
    )
    write_archive(config, out)  # out/index.html and out/feed.xml, read back from the issues
    keys = {key for story in issue.stories for key in story_keys(story)}
    history.record_issue(date, keys, [published_record(s, date) for s in issue.stories])
    if store is not None and window is not None:
        store.record_issue_cutoff(date, window.cutoff)
    return BuildResult(issue=issue, folder=folder, paths=paths)
