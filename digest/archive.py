"""The archive: every built issue by date, as a web page and an Atom feed.

It is read back from each issue's digest.json, not from the state database:
the files in the output folder are what readers got, so the archive can be
rebuilt from that folder alone and published as it is (out/index.html,
out/feed.xml next to the issue folders).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from digest.config import Config
from digest.models import Note
from digest.output import write_atomic
from digest.render import template_environment

ARCHIVE_TEMPLATE = "web/archive.html.j2"
FEED_TEMPLATE = "web/feed.xml.j2"
INDEX_FILE = "index.html"
FEED_FILE = "feed.xml"
ISSUE_FILE = "digest.json"
FEED_ENTRIES = 30
_ISSUE_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveEntry:
    """One built issue as the archive lists it."""

    date: dt.date
    title: str
    subject: str
    lead: str | None
    headlines: tuple[str, ...]
    stories: int
    sections: int
    must_reads: int

    @property
    def headline(self) -> str:
        return self.lead or (self.headlines[0] if self.headlines else self.subject)


@dataclass(frozen=True)
class Archive:
    """Issues newest first, and the folders that could not be read (with why)."""

    entries: tuple[ArchiveEntry, ...]
    skipped: tuple[Note, ...] = ()

    def entry(self, date: dt.date) -> ArchiveEntry | None:
        return next((e for e in self.entries if e.date == date), None)


def entry_from_json(data: Mapping[str, Any]) -> ArchiveEntry:
    """An archive entry from an issue's data (digest.json); KeyError/ValueError if malformed."""
    sections = data["sections"]
    stories = [story for section in sections for story in section["stories"]]
    titles = {story["id"]: story["title"] for story in stories}
    lead_id = data.get("lead")
    lead = titles.get(lead_id) if isinstance(lead_id, str) else None
    return ArchiveEntry(
        date=dt.date.fromisoformat(data["date"]),
        title=str(data["title"]),
        subject=str(data["subject"]),
        lead=lead,
        headlines=tuple(str(story["title"]) for story in stories),
        stories=len(stories),
        sections=len(sections),
        must_reads=len(data.get("must_reads", [])),
    )


def issue_folders(out: Path) -> list[Path]:
    """The dated issue folders under `out` that hold an issue's data, oldest first."""
    if not out.is_dir():
        return []
    return sorted(
        p for p in out.iterdir() if _ISSUE_FOLDER.fullmatch(p.name) and (p / ISSUE_FILE).is_file()
    )


def read_archive(out: Path) -> Archive:
    """Every issue in the output folder; an unreadable one is skipped with a note, never fatal."""
    entries: list[ArchiveEntry] = []
    skipped: list[Note] = []
    for folder in issue_folders(out):
        path = folder / ISSUE_FILE
        try:
            entries.append(entry_from_json(json.loads(path.read_text("utf-8"))))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            skipped.append(Note("archive", str(path), f"not listed in the archive: {exc!r}"))
    entries.sort(key=lambda e: e.date, reverse=True)
    return Archive(entries=tuple(entries), skipped=tuple(skipped))


def static_link(entry: ArchiveEntry) -> str:
    """Where the published archive links an issue: its HTML, next to index.html."""
    return f"{entry.date.isoformat()}/digest.html"


def render_index(
    archive: Archive,
    config: Config,
    *,
    issue_link: Callable[[ArchiveEntry], str] = static_link,
    live: dict[str, Any] | None = None,
) -> str:
    """The archive page; `live` carries the preview server's extras (status, version)."""
    env = template_environment(config, "web")
    return env.get_template(ARCHIVE_TEMPLATE).render(
        newsletter=config.newsletter,
        entries=archive.entries,
        issue_link=issue_link,
        feed_link=FEED_FILE if live is None else f"/files/{FEED_FILE}",
        live=live,
    )


def render_feed(archive: Archive, config: Config) -> str:
    """An Atom feed of the newest issues; ids and times derive from the issues, never the clock."""
    nl = config.newsletter
    zone = zoneinfo.ZoneInfo(nl.timezone)
    entries = archive.entries[:FEED_ENTRIES]
    updated = {e.date: dt.datetime.combine(e.date, nl.send_time, zone) for e in entries}
    domain = parseaddr(nl.sender)[1].rpartition("@")[2] or "example.com"
    slug = re.sub(r"[^a-z0-9]+", "-", nl.name.lower()).strip("-") or "digest"
    base = nl.archive_url.rstrip("/") + "/" if nl.archive_url else ""
    first_year = min((e.date.year for e in archive.entries), default=2000)
    env = template_environment(config, "web")
    return env.get_template(FEED_TEMPLATE).render(
        newsletter=nl,
        entries=entries,
        base=base,
        feed_id=f"{base}{FEED_FILE}" if base else f"tag:{domain},{first_year}:{slug}",
        entry_id=lambda e: f"tag:{domain},{e.date.isoformat()}:{slug}",
        updated=lambda e: updated[e.date].isoformat(),
        feed_updated=updated[entries[0].date].isoformat() if entries else "2000-01-01T00:00:00Z",
        issue_link=static_link,
    )


def write_archive(config: Config, out: Path) -> tuple[Path, ...]:
    """Write out/index.html and out/feed.xml from the issues in `out`; returns their paths."""
    archive = read_archive(out)
    for note in archive.skipped:
        log.warning("%s: %s", note.origin, note.message)
    index = out / INDEX_FILE
    feed = out / FEED_FILE
    write_atomic(index, render_index(archive, config).encode())
    write_atomic(feed, render_feed(archive, config).encode())
    return (feed, index)
