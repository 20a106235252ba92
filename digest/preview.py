"""The preview's pages: what each URL answers, with no sockets involved.

Issues are shown from their built files (the email HTML framed as is, the text
file, the report from digest.json), never re-rendered, so the preview cannot
differ from what is sent. Every answer carries a Content-Security-Policy: the
preview's own pages run only the preview's script, and built files run none.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jinja2

from digest.archive import (
    ISSUE_FILE,
    ArchiveEntry,
    entry_from_json,
    read_archive,
    render_index,
)
from digest.config import Config
from digest.live import BuildStatus, LiveBuilder
from digest.models import Note
from digest.render import template_environment

ISSUE_TEMPLATE = "web/issue.html.j2"
VIEWS = (
    ("desktop", "Desktop"),
    ("phone", "Phone"),
    ("dark", "Dark mode"),
    ("text", "Plain text"),
    ("report", "Build report"),
)
REPORT_KEYS = ("corrections", "dropped", "merged", "warnings")

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self' https:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# Built files: no script at all, sandboxed even when opened on their own.
FILE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; font-src https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)
FILE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".xml": "application/atom+xml; charset=utf-8",
    ".eml": "message/rfc822",
}
STATIC = {
    "/static/preview.css": ("web/_style.css", "text/css; charset=utf-8"),
    "/static/live.js": ("web/_live.js", "text/javascript; charset=utf-8"),
}
_DARK_QUERY = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)", re.I)
_ISSUE_PATH = re.compile(r"/issues/(\d{4}-\d{2}-\d{2})(/[a-z]*)?")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    policy: str = PAGE_POLICY


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    percent: float


@dataclass(frozen=True)
class ReportView:
    """The build report of one issue, as the report view shows it."""

    notes: Mapping[str, tuple[Note, ...]]
    by_source: tuple[Bar, ...]
    by_theme: tuple[Bar, ...]


def bars(counts: Mapping[str, int]) -> tuple[Bar, ...]:
    """Counts as bars, biggest first; the biggest fills the width."""
    top = max(counts.values(), default=0)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(Bar(k, v, round(100 * v / top, 1) if top else 0.0) for k, v in ordered)


def report_view(data: Mapping[str, Any]) -> ReportView:
    """Stories per source (outlets and the newsletters that relayed them) and per theme."""
    by_source: Counter[str] = Counter()
    by_theme: Counter[str] = Counter()
    for section in data["sections"]:
        by_theme[section["theme"]["name"]] += len(section["stories"])
        for story in section["stories"]:
            names = {s["name"] for s in story["sources"]} | {
                s["via"] for s in story["sources"] if s.get("via")
            }
            by_source.update(names)
    report = data.get("report", {})
    notes = {
        key: tuple(Note(n["stage"], n["origin"], n["message"]) for n in report.get(key, []))
        for key in REPORT_KEYS
    }
    return ReportView(notes=notes, by_source=bars(by_source), by_theme=bars(by_theme))


def force_dark(page: str) -> str:
    """The same HTML with its dark-mode media queries switched on (and light ones off).

    Browsers give an embedded page the viewer's colour scheme, whatever the frame
    says (Chromium 156 checked), so the dark view flips the queries instead.
    """
    return _DARK_QUERY.sub(
        lambda m: "(min-width: 0px)" if m.group(1).lower() == "dark" else "(max-width: 0px)", page
    )


class Preview:
    """Answers every preview URL from the output folder and the live build status."""

    def __init__(self, builder: LiveBuilder) -> None:
        self.builder = builder
        self.out = builder.out.resolve()

    @property
    def status(self) -> BuildStatus:
        return self.builder.status

    @property
    def config(self) -> Config:
        """The last config that built; the pages keep working while the file is broken."""
        return self.builder.config

    def respond(self, target: str) -> Response:
        """The answer for a request target (path and query); never raises."""
        try:
            return self._route(target)
        except Exception as exc:  # a broken web template must not take the server down
            message = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, jinja2.TemplateSyntaxError):
                message += f" ({exc.filename}, line {exc.lineno})"
            return Response(500, plain_page("Preview error", message, self.status.version))

    def _route(self, target: str) -> Response:
        split = urlsplit(target)
        path = unquote(split.path)
        query = parse_qs(split.query)
        segments = path.split("/")
        if ".." in segments or "\x00" in path or "\\" in path:
            return self._refused(path)
        if path == "/":
            return self._archive()
        if path in STATIC:
            name, content_type = STATIC[path]
            env = template_environment(self.config, "web")
            return Response(200, env.get_template(name).render().encode(), content_type)
        if path == "/status":
            return self._status_json()
        if path.startswith("/files/"):
            return self._file(path.removeprefix("/files/"), query)
        match = _ISSUE_PATH.fullmatch(path)
        if match:
            if match.group(2) is None:
                return Response(301, b"", headers=(("Location", path + "/"),))
            return self._issue(match.group(1), match.group(2).strip("/") or "desktop")
        return self._not_found(f"No page at {path}.")

    def _live(self) -> dict[str, Any]:
        status = self.status
        return {"version": status.version, "status": status}

    def _archive(self) -> Response:
        archive = read_archive(self.out)
        page = render_index(
            archive,
            self.config,
            issue_link=lambda e: f"/issues/{e.date.isoformat()}/",
            live=self._live(),
        )
        return Response(200, page.encode())

    def _issue(self, day: str, view: str) -> Response:
        if view not in dict(VIEWS):
            return self._not_found(f"No view named {view!r}.")
        try:
            date = dt.date.fromisoformat(day)
        except ValueError:
            return self._not_found(f"{day} is not a date.")
        folder = self.out / date.isoformat()
        try:
            data = json.loads((folder / ISSUE_FILE).read_text("utf-8"))
            entry: ArchiveEntry = entry_from_json(data)
        except FileNotFoundError:
            return self._not_found(f"The {date} issue has not been built.")
        context: dict[str, Any] = {
            "newsletter": self.config.newsletter,
            "live": self._live(),
            "entry": entry,
            "view": view,
            "views": VIEWS,
            "files": {
                kind: f"/files/{date.isoformat()}/digest.{kind}"
                for kind in ("html", "txt", "json", "eml")
            },
            "text": "",
            "report": None,
        }
        if view == "text":
            context["text"] = (folder / "digest.txt").read_text("utf-8")
        if view == "report":
            context["report"] = report_view(data)
        env = template_environment(self.config, "web")
        return Response(200, env.get_template(ISSUE_TEMPLATE).render(context).encode())

    def _file(self, relative: str, query: Mapping[str, list[str]]) -> Response:
        target = (self.out / relative).resolve()
        if not target.is_relative_to(self.out):
            return self._refused(relative)
        if not target.is_file() or target.name.startswith("."):
            return self._not_found(f"No file {relative} in the output folder.")
        body = target.read_bytes()
        headers: tuple[tuple[str, str], ...] = ()
        content_type = FILE_TYPES.get(target.suffix, "application/octet-stream")
        if target.suffix == ".html" and query.get("scheme") == ["dark"]:
            body = force_dark(body.decode("utf-8")).encode()
        if target.suffix not in (".html", ".txt", ".json", ".xml"):
            download = f"{target.parent.name}-{target.name}"
            headers = (("Content-Disposition", f'attachment; filename="{download}"'),)
        return Response(200, body, content_type, headers, policy=FILE_POLICY)

    def _status_json(self) -> Response:
        status = self.status
        data = asdict(status)
        data["date"] = status.date.isoformat()
        body = json.dumps(data, ensure_ascii=False).encode()
        return Response(200, body, "application/json; charset=utf-8")

    def _refused(self, path: str) -> Response:
        return Response(403, plain_page("Refused", f"{path}: outside the output folder."))

    def _not_found(self, why: str) -> Response:
        return Response(404, plain_page("Not found", why))


def plain_page(title: str, text: str, version: int | None = None) -> bytes:
    """A bare page for errors, built without templates so that it works when they are broken.

    With a build version it also reloads itself after the next rebuild, so fixing
    a broken web template brings the real page back.
    """
    title, text = html.escape(title), html.escape(text)
    live = "" if version is None else f' data-version="{version}"'
    script = "" if version is None else '<script src="/static/live.js" defer></script>'
    return (
        f'<!doctype html><html lang="en"{live}><meta charset="utf-8"><title>{title}</title>{script}'
        f'<link rel="icon" href="data:,"><h1>{title}</h1><p>{text}</p>'
        '<p><a href="/">Archive</a></p>'
    ).encode()
