"""Render stage: an Issue becomes the files a reader gets (HTML, text, JSON, .eml).

Pure functions over the frozen model. The templates are the product's face, so
they are looked up in layers like Pelican's themes: the user's folder first,
then the shipped templates, which an override can also reach as `default:` to
extend them instead of copying them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import jinja2
from mjml import mjml2html

import digest
from digest.config import Config
from digest.issue_json import issue_to_json
from digest.message import build_message, message_bytes
from digest.models import (
    Issue,
    RenderedIssue,
    Section,
    SourceRef,
    Story,
)

TemplateKind = Literal["email", "text", "web"]

EMAIL_TEMPLATE = "email/digest.mjml.j2"
TEXT_TEMPLATE = "text/digest.txt.j2"
TEXT_WIDTH = 78
GMAIL_CLIP_BYTES = 102 * 1024

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_HTTPS_URL = re.compile(r"https://[^\s/?#<>\"']+[^\s<>\"]*")
_TAG_LIKE = re.compile(r"<(/?[A-Za-z!][^<>]*)>")

log = logging.getLogger(__name__)


class RenderError(Exception):
    """The rendered output is broken in a way no reader should ever receive."""


# --- template lookup ---------------------------------------------------------


def builtin_template_dir() -> Path:
    """The shipped templates: inside the installed package, else the source checkout.

    A wheel carries them as `digest/templates`; a checkout keeps them at the top level.
    """
    packaged = Path(digest.__file__).parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


def template_environment(config: Config, kind: TemplateKind) -> jinja2.Environment:
    """A Jinja environment whose lookup order is user folder, `default:` prefix, shipped.

    Undefined variables raise so a typo in a template fails the build instead of
    sending an email with a hole in it. The email and web kinds autoescape; the
    text part must never show `&amp;`.
    """
    builtin = jinja2.FileSystemLoader(builtin_template_dir())
    loaders: list[jinja2.BaseLoader] = []
    if config.template_dir is not None:
        loaders.append(jinja2.FileSystemLoader(config.template_dir))
    loaders.append(jinja2.PrefixLoader({"default": builtin}, delimiter=":"))
    loaders.append(builtin)
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=kind in ("email", "web"),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["wrap"] = wrap
    env.filters["long_date"] = long_date
    env.filters["short_date"] = short_date
    env.filters["outlet"] = outlet
    env.filters["oneline"] = oneline
    env.filters["plain"] = plain
    env.filters["distinct_sources"] = distinct_sources
    env.tests["https"] = is_https
    return env


# --- helpers the templates use -----------------------------------------------


def is_https(url: object) -> bool:
    """Only absolute https links go out: anything else is dropped, never guessed at."""
    return isinstance(url, str) and _HTTPS_URL.fullmatch(url) is not None


def oneline(text: str) -> str:
    """Collapse every run of whitespace (newlines included) into one space."""
    return " ".join(text.split())


def plain(text: str) -> str:
    """Text-part value: one line, and markup-looking words defused.

    A feed title may literally contain `<script>`; in a text/plain part some
    clients turn such text back into markup, so angle brackets around tag-like
    words become ‹ and ›.
    """
    return _TAG_LIKE.sub(lambda m: f"‹{m.group(1)}›", oneline(text))


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "", first: str | None = None) -> str:
    """Wrap for the text part without ever breaking a word or a URL.

    `first` replaces `indent` on the first line, for hanging list numbers.
    A word longer than the width (a URL) stays whole on a line of its own.
    """
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    wrapper = textwrap.TextWrapper(
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    out: list[str] = []
    for i, paragraph in enumerate(paragraphs):
        if i == 1:
            wrapper.initial_indent = indent
        out.append(wrapper.fill(oneline(paragraph)))
    return "\n\n".join(out)


def distinct_sources(sources: Iterable[SourceRef]) -> list[SourceRef]:
    """One credit per name: the outlets first, then the newsletters that relayed them.

    A Wired story also linked from The Download reads "via Wired · The Download",
    not "via Wired · Wired (via The Download)".
    """
    sources = list(sources)
    by_name: dict[str, SourceRef] = {}
    for source in sources:
        kept = by_name.get(source.name)
        if kept is None or (not is_https(kept.url) and is_https(source.url)):
            by_name[source.name] = SourceRef(name=source.name, url=source.url)
    for source in sources:
        if source.via and source.via not in by_name:
            by_name[source.via] = SourceRef(name=source.via)
    return list(by_name.values())


def long_date(value: dt.date) -> str:
    """The long date, e.g. Sunday, November 22, 2026, whatever the machine's locale."""
    return f"{_DAYS[value.weekday()]}, {_MONTHS[value.month - 1]} {value.day}, {value.year}"


def short_date(value: dt.date) -> str:
    """The short date, e.g. November 20, 2026, whatever the machine's locale."""
    return f"{_MONTHS[value.month - 1]} {value.day}, {value.year}"


def outlet(url: str) -> str:
    """A readable outlet name for a bare link: its host without `www.`."""
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


class LinkRefs:
    """Numbered link references for the text part: `[n]` in the text, a list at the end.

    The same URL always gets the same number; numbers follow first use.
    """

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}

    def __call__(self, url: str | None) -> str:
        if not is_https(url):
            return ""
        assert url is not None
        number = self._numbers.setdefault(url, len(self._numbers) + 1)
        return f"[{number}]"

    def links(self) -> list[tuple[int, str]]:
        return [(n, url) for url, n in self._numbers.items()]


# --- what the templates see --------------------------------------------------


def template_context(issue: Issue, config: Config) -> dict[str, Any]:
    """The template contract: the issue, its settings and a few precomputed views.

    Sections list only the features the reader has not already seen as the lead,
    and drop out when that leaves them empty.
    """
    return {
        "issue": issue,
        "newsletter": config.newsletter,
        "language": config.newsletter.language or "en",
        "date_text": long_date(issue.date),
        "lead": issue.lead,
        "sections": feature_sections(issue),
        "must_reads": issue.must_reads,
        "quote": issue.quote,
        "theme_names": theme_names(issue, config),
        "paywalled": paywalled_stories(issue),
        "is_empty": not issue.stories and issue.lead is None,
        "earlier": {
            s.id: issue_url(config, s.update_of.issue_date) for s in issue.stories if s.update_of
        },
    }


def issue_url(config: Config, date: dt.date) -> str:
    """Where an earlier issue is published, if the config says where the archive lives."""
    base = config.newsletter.archive_url.rstrip("/")
    return f"{base}/{date.isoformat()}/digest.html" if base else ""


def feature_sections(issue: Issue) -> list[tuple[Section, tuple[Story, ...]]]:
    """Each section with its features other than the lead; empty sections are left out."""
    lead_id = issue.lead.id if issue.lead is not None else None
    views: list[tuple[Section, tuple[Story, ...]]] = []
    for section in issue.sections:
        stories = tuple(s for s in section.stories if s.kind == "feature" and s.id != lead_id)
        if stories:
            views.append((section, stories))
    return views


def theme_names(issue: Issue, config: Config) -> dict[str, str]:
    """Theme key -> display name, from the config and from the issue's own sections."""
    names = {t.key: t.name for t in (*config.themes, config.catch_all)}
    names.update({s.theme.key: s.theme.name for s in issue.sections})
    return names


def paywalled_stories(issue: Issue) -> frozenset[str]:
    """Ids of stories whose own link leads to a paywall, so the outlet can carry a `$`."""
    stories = (*issue.stories, *issue.must_reads, *([issue.lead] if issue.lead else []))
    return frozenset(s.id for s in stories if any(i.paywalled and i.url == s.url for i in s.items))


# --- the four outputs --------------------------------------------------------


def render_mjml(issue: Issue, config: Config) -> str:
    """The MJML source of the email, before MRML turns it into HTML (for debugging)."""
    env = template_environment(config, "email")
    return env.get_template(EMAIL_TEMPLATE).render(template_context(issue, config))


def render_html(issue: Issue, config: Config) -> str:
    """The HTML part: Jinja writes MJML, MRML compiles it, then the result is checked.

    MRML never warns about invalid MJML, so the output is checked for the mistakes
    it lets through silently.
    """
    source = render_mjml(issue, config)
    try:
        html: str = mjml2html(source)
    except Exception as exc:  # MRML raises plain exceptions with a parser message
        raise RenderError(f"MJML could not be compiled: {exc}") from exc
    problems, advice = html_problems(html)
    if problems:
        raise RenderError("rendered HTML is not email-ready: " + "; ".join(problems))
    for message in advice:
        log.warning("%s", message)
    return html


def html_problems(html: str) -> tuple[list[str], list[str]]:
    """(problems that must stop the build, advice worth a warning) for compiled HTML."""
    problems: list[str] = []
    if not html.strip():
        problems.append("MRML produced no HTML")
    if re.search(r"<mj-[a-z]|<mjml\b", html):
        problems.append("MJML tags left uncompiled (invalid nesting?)")
    if re.search(r"<script\b", html, re.I):
        problems.append("a <script> element")
    if not re.search(r"<html\b[^>]*\blang=\"[^\"]+\"", html):
        problems.append("no lang on <html>")
    advice: list[str] = []
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        advice.append(f"HTML is {size // 1024} KB: Gmail clips above 102 KB; cut stories")
    return problems, advice


def render_text(issue: Issue, config: Config) -> str:
    """The text/plain twin: same content, lines of at most 78, links as `[n]` notes."""
    env = template_environment(config, "text")
    context = template_context(issue, config)
    context["ref"] = LinkRefs()
    text = env.get_template(TEXT_TEMPLATE).render(context)
    return _squeeze_blank_lines(text)


def _squeeze_blank_lines(text: str) -> str:
    """At most one blank line in a row and one final newline, whatever the blocks left."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def render_issue(issue: Issue, config: Config) -> RenderedIssue:
    """All four files for one issue, the .eml addressed to the configured recipients."""
    html = render_html(issue, config)
    text = render_text(issue, config)
    eml = message_bytes(build_message(issue, html, text, config))
    return RenderedIssue(html=html, text=text, json=issue_to_json(issue), eml=eml)


__all__: list[str] = [
    "LinkRefs",
    "RenderError",
    "builtin_template_dir",
    "html_problems",
    "render_html",
    "render_issue",
    "render_mjml",
    "render_text",
    "template_environment",
    "wrap",
]
