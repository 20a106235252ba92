"""Read a link-list edition (TLDR and its kin): linked headlines, each with its paragraph.

Many newsletters are a list of headlines that link to the story elsewhere, each
followed by a paragraph that sums it up, grouped under plain section headings
("Big Tech & Startups", "Quick Links"). The shape is recognised, not the name:
a headline is a line that is nothing but a link set as a heading or in bold
(`[### Title](url)`, `### [Title](url)`, `**[Title](url)**`, `[**Title**](url)`,
the last being how an e-mail's `<a><h3>` reads after `digest.mailhtml`).

An ordinary article can carry a few such headings in a "related stories" box,
so a page is a link list only when the linked stories are most of its words and
point to several sites (a related box points back to its own).

This module only cuts the page into pieces and says which are not news (a
sponsor, a job ad, the newsletter's own furniture); `digest.edition` turns the
stories into items.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from digest.text import inline_markdown
from digest.urls import domain

_TITLE = r"(?P<title>(?:(?!\]\().)+?)"
_URL = r"\((?P<url>[^\s()]+(?:\([^\s()]*\)[^\s()]*)*)\)"
_HEADLINES = tuple(
    re.compile(p)
    for p in (
        rf"^\[#{{1,6}}\s+{_TITLE}\]{_URL}$",  # [### Title](url)
        rf"^\[\*\*{_TITLE}\*\*\]{_URL}$",  # [**Title**](url)
        rf"^#{{1,6}}\s+\[{_TITLE}\]{_URL}$",  # ### [Title](url)
        rf"^\*\*\[{_TITLE}\]{_URL}\*\*$",  # **[Title](url)**
    )
)
_HEADING = re.compile(r"^(#{1,6}(\s+.*)?|\*\*[^*]+\*\*)$")
# "(4 minute read)", "(GitHub Repo)", "(Reddit Thread)": what the link is, not the news.
_KIND_SUFFIX = re.compile(
    r"\s*\((?:\d+\s+min(?:ute)?s?(?:\s+(?:read|video|watch|listen))?"
    r"|github repo|reddit thread|hacker news thread|twitter thread|website|podcast|video|"
    r"paper|tool|product launch)\)\s*$",
    re.I,
)
_SPONSOR = re.compile(
    r"\((?:sponsor(?:ed)?|partner|ad)\)|^\[?(?:sponsor(?:ed)?|ad)\]?\s*[:|]"
    r"|^(?:advertisement|(?:sponsored by|in partnership with|presented by|together with)\b)",
    re.I,
)
_JOB_BOARDS = ("ashbyhq.com", "lever.co", "greenhouse.io", "workable.com", "recruitee.com")
_SALARY = re.compile(r"\$\d[\d,.]*k?\s*[-–]\s*\$?\d[\d,.]*k\b", re.I)
# Lines that speak about the newsletter, not the news: they end a story's text.
_FURNITURE = re.compile(
    r"^(?:subscribe|unsubscribe|sign (?:up|in)|advertise|privacy|careers|timestamp:"
    r"|manage (?:your )?(?:subscription|preferences)|view (?:this e-?mail )?in (?:your )?browser"
    r"|join [\d,.]+\+? (?:readers|subscribers)|share (?:your|this) referral"
    r"|love \S+\? tell your friends|want to (?:advertise|work)"
    r"|if you have any (?:comments|feedback)"
    r"|\S+(?: \S+){0,3} is an? (?:free )?(?:daily|weekly|monthly) (?:e-?mail|newsletter))",
    re.I,
)
_ISO_DATE = re.compile(r"\s*\b(\d{4})-(\d{2})-(\d{2})\b\s*")
_MIN_STORIES = 3
_MIN_HOSTS = 3
_MIN_SHARE = 0.5  # of the page's words that sit in the linked stories


@dataclass(frozen=True)
class Story:
    """A linked headline and the paragraphs under it; `not_news` says why it is dropped."""

    title: str
    url: str
    paragraphs: tuple[str, ...]
    not_news: str | None = None


@dataclass(frozen=True)
class Furniture:
    """A line of the newsletter's own chrome (navigation, masthead, referral, footer)."""

    markdown: str

    @property
    def text(self) -> str:
        return plain(self.markdown)


@dataclass(frozen=True)
class Page:
    stories: tuple[Story, ...]
    furniture: tuple[Furniture, ...]
    name: str | None  # the masthead's words ("TLDR AI"), without its date
    date: dt.date | None  # the date the masthead prints


def read(lines: list[str]) -> Page | None:
    """The page as a link list, or None when its shape is not one."""
    stripped = [line.strip() for line in lines]
    linked = (line for line in stripped if line.endswith((")", ")**")) and headline(line))
    if sum(1 for _ in linked) < _MIN_STORIES:
        return None  # most pages: no need to read them closely
    stories, furniture = _cut(stripped)
    told = [s for s in stories if _words(" ".join(s.paragraphs)) >= 5]
    if len(told) < _MIN_STORIES or len({domain(s.url) for s in told}) < _MIN_HOSTS:
        return None
    in_stories = sum(_words(s.title) + _words(" ".join(s.paragraphs)) for s in stories)
    everything = in_stories + sum(_words(f.markdown) for f in furniture)
    if in_stories < _MIN_SHARE * everything:
        return None
    name, date = _masthead(lines)
    return Page(tuple(stories), tuple(furniture), name, date)


def headline(line: str) -> tuple[str, str] | None:
    """A line that is only a linked heading: its words and its link."""
    for pattern in _HEADLINES:
        if match := pattern.match(line.strip()):
            return match["title"].strip(), match["url"].replace("&amp;", "&")
    return None


def plain_title(title: str) -> str:
    """The headline as a reader should see it: no "(4 minute read)" or "(GitHub Repo)"."""
    return _KIND_SUFFIX.sub("", plain(title)).strip()


def _cut(lines: list[str]) -> tuple[list[Story], list[Furniture]]:
    stories: list[Story] = []
    furniture: list[Furniture] = []
    current: tuple[str, str] | None = None
    paragraphs: list[list[str]] = []
    ended = False  # furniture met inside a story: the rest of it is furniture too
    pending_heading: str | None = None

    def close() -> None:
        nonlocal current, paragraphs, ended
        if current is not None:
            body = tuple(" ".join(p) for p in paragraphs if p)
            stories.append(Story(current[0], current[1], body, _not_news(*current, body)))
        current, paragraphs, ended = None, [], False

    for i, line in enumerate(lines):
        if not line:
            if current is not None and paragraphs and paragraphs[-1]:
                paragraphs.append([])
            continue
        if found := headline(line):
            close()
            pending_heading = None
            current, paragraphs = found, [[]]
            continue
        if _HEADING.match(line):
            close()
            if pending_heading is not None and _has_words(pending_heading):
                furniture.append(Furniture(pending_heading))
            # A section heading is followed by a headline; any other heading is chrome.
            pending_heading = line if not _next_is_headline(lines, i) else None
            continue
        if not _has_words(line):
            continue  # an emoji set above a section heading
        if current is not None and not ended and not _FURNITURE.match(plain(line)):
            paragraphs[-1].append(line)
            continue
        ended = current is not None
        if pending_heading is not None and _has_words(pending_heading):
            furniture.append(Furniture(pending_heading))
        pending_heading = None
        furniture.append(Furniture(line))
    close()
    if pending_heading is not None and _has_words(pending_heading):
        furniture.append(Furniture(pending_heading))
    return stories, furniture


def _next_is_headline(lines: list[str], i: int) -> bool:
    for line in lines[i + 1 :]:
        if line and _has_words(line):
            return headline(line) is not None
    return False


def _not_news(title: str, url: str, body: tuple[str, ...]) -> str | None:
    if _SPONSOR.search(plain_title(title)) or any(_SPONSOR.match(plain(p)) for p in body[:1]):
        return "sponsor"
    host = domain(url)
    if any(host == b or host.endswith("." + b) for b in _JOB_BOARDS) or _SALARY.search(title):
        return "job ad"
    return None


def _masthead(lines: list[str]) -> tuple[str | None, dt.date | None]:
    """The first heading that prints a date ("# TLDR 2026-08-20"), before any story."""
    for line in lines:
        stripped = line.strip()
        if headline(stripped):
            break
        if _HEADING.match(stripped) and (match := _ISO_DATE.search(stripped)):
            try:
                date = dt.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                continue
            name = _ISO_DATE.sub(" ", plain(stripped)).strip()
            return name or None, date
    return None, None


def plain(line: str) -> str:
    """A markdown line's words: no heading marks, emphasis or link targets."""
    line = re.sub(r"^#{1,6}\s*", "", line)
    return inline_markdown(line)[0] if re.search(r"[*_\[`\\<&]", line) else line


def _has_words(line: str) -> bool:
    return any(ch.isalnum() for ch in line)


def _words(text: str) -> int:
    return len(text.split())
