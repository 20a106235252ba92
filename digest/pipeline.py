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
from digest.merge import merge, story_keys
from digest.models import BuildReport, Issue, Item, Note, RawItem, Story
from digest.output import write_issue
from digest.readers import read_local
from digest.render import render_issue
from digest.store import History
from digest.themes import assign

OUTPUT_FILES = ("digest.html", "digest.txt", "digest.json", "digest.eml")


@dataclass(frozen=True)
class BuildResult:
    issue: Issue
    folder: Path
    paths: tuple[Path, ...]


def collect_raw(config: Config) -> tuple[list[RawItem], list[Note]]:
    """Every enabled source's raw items; a broken source is a note, never a failure."""
    raws: list[RawItem] = []
    notes: list[Note] = []
    for source in config.sources:
        if not source.enabled:
            continue
        if source.path is None:
            notes.append(
                Note(
                    "read",
                    source.location,
                    "feed sources are not collected by this version yet; skipped",
                )
            )
            continue
        result = read_local(source, config.root)
        raws.extend(result.items)
        notes.extend(result.notes)
    return raws, notes


def make_issue(config: Config, date: dt.date, history: History) -> Issue:
    raws, warnings = collect_raw(config)
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
    fresh: list[Story] = []
    rebuilt = history.issue_keys(date)
    for story in merged.stories:
        keys = story_keys(story)
        seen = {} if rebuilt.intersection(keys) else history.published_before(keys, date)
        if seen:
            first = min(seen.values())
            dropped.append(
                Note("history", story.id, f"already in the {first} issue: {story.title!r}")
            )
        else:
            fresh.append(assign(story, config.themes, config.catch_all))

    report = BuildReport(
        corrections=tuple(corrections),
        dropped=tuple(dropped),
        merged=merged.notes,
        warnings=tuple(warnings),
    )
    return assemble(config, date, fresh, quotes, report)


def build(config: Config, date: dt.date, out: Path, history: History) -> BuildResult:
    issue = make_issue(config, date, history)
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
    history.record_issue(date, keys)
    return BuildResult(issue=issue, folder=folder, paths=paths)
