"""Turn a raw item into clean items: repaired text, no scaffolding, metadata we can defend.

Scrapers wrap articles in their own labels, reader services prepend headers,
web pages trail chrome, and front matter is sometimes copied from the wrong
page. Each of those is removed here, and every decision that changes what the
source claimed is written to the build report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field, replace

from digest import edition, mailhtml
from digest.extract import extract_page, is_full_page
from digest.models import Block, Item, Note, RawItem
from digest.tags import parse_tags
from digest.text import (
    html_to_blocks,
    is_boilerplate,
    is_sponsored,
    markdown_to_blocks,
    repair_text,
    sentences,
)
from digest.urls import clean_url, date_in_url, outlet_for, slug_words

# Labels a Chinese scraper wraps around the article it saved.
_SCRAPER_SOURCE = re.compile(
    r"^\*\*来源\*\*\s*[:：]\s*\[(?P<name>[^\]]+)\]\((?P<url>[^)\s]+)\)\s*$"
)
_SCRAPER_LINES = re.compile(r"^(#+\s*原文内容\s*|\*?自动采集于.*|---)$")
# Headers of reader services (r.jina.ai style) in front of the article.
_READER_HEADER = re.compile(r"^(Title|URL Source|Published Time|Markdown Content):\s*(.*)$")
# Bylines written as their own lines near the top of a write-up.
_BYLINE = re.compile(r"^[*_]*(Published|Date|Author|By)\s*[:：]\s*(?P<value>.+?)[*_]*\s*$", re.I)
# Where a page's article ends and its chrome (share bars, related posts) begins.
_END_OF_ARTICLE = re.compile(
    r"^(Original article by\b.*|Like \(\d+\)|相关推荐.*|[*_]*Based on research-agent report.*"
    r"|[*_]*自动采集于.*|(Previous|Next)\s+[A-Z][a-z]+ \d{1,2}, \d{4}.*)$"
)
_ORIGINAL_ARTICLE = re.compile(
    r"^Original article by (?P<name>[^,]+),.*?(?P<url>https?://\S+?)[.)]?$", re.I
)


@dataclass
class Evidence:
    """What the file says about itself, gathered before any of it is trusted."""

    front: dict[str, str] = field(default_factory=dict)
    reader: dict[str, str] = field(default_factory=dict)
    scraper_source: tuple[str, str] | None = None
    original: tuple[str, str] | None = None
    bylines: dict[str, str] = field(default_factory=dict)
    heading: str | None = None


@dataclass(frozen=True)
class Cleaned:
    items: tuple[Item, ...]
    corrections: tuple[Note, ...] = ()
    dropped: tuple[Note, ...] = ()


def clean(raw: RawItem) -> Cleaned:
    text = repair_text(raw.text)
    ev = Evidence(front={k: repair_text(v).strip() for k, v in raw.meta})
    notes: list[Note] = []
    dropped: list[Note] = []
    if _from_feed(raw):
        return _clean_feed_entry(raw, text, ev, dropped)
    markup = raw.format
    if markup == "html" and (mail := _edition_mail(text, ev.front.get("title", ""))):
        text, markup = repair_text(mail.markdown), "markdown"
        if mail.title:
            ev.front.setdefault("title", repair_text(mail.title))
    elif markup == "html" and (is_full_page(text) or "title" not in ev.front):
        page = extract_page(text)
        if page is None:
            dropped.append(Note("clean", raw.origin, "no article found in the page"))
            return Cleaned((), (), tuple(dropped))
        text, markup = repair_text(page.markdown), "markdown"
        for key, value in page.meta.items():
            if key == "author":
                ev.bylines.setdefault("author", value)
            else:
                ev.front.setdefault(key, repair_text(value))
    lines = _strip_scaffolding(text.split("\n"), ev, raw.origin, dropped)

    url = _choose_url(ev)
    published = _choose_date(ev, url, raw.origin, notes)
    title, lines = _choose_title(ev, lines, url, raw.origin, notes)
    source = _choose_source(ev, url)
    title = _without_site_name(title, source)

    if edition.is_edition(title, lines):
        split = edition.split(
            lines,
            edition.Context(
                origin=raw.origin,
                name=_edition_name(title, source, lines),
                url=url,
                published=published,
                source=source,
                weight=raw.weight,
            ),
        )
        return Cleaned(split.items, tuple(notes), tuple(dropped) + split.dropped)

    body = "\n".join(_one_paragraph_per_line(lines) if markup == "markdown" else lines)
    blocks = html_to_blocks(body, url) if markup == "html" else markdown_to_blocks(body, url)
    blocks = _drop_boilerplate(blocks, title, raw.origin, dropped)
    if not blocks:
        dropped.append(Note("clean", raw.origin, "no article text left after cleaning"))
        return Cleaned((), tuple(notes), tuple(dropped))
    if _mostly_link_references(blocks):
        dropped.append(Note("clean", raw.origin, "a page of link references, not an article"))
        return Cleaned((), tuple(notes), tuple(dropped))
    author = ev.bylines.get("author") or ev.bylines.get("by")
    item = Item(
        id=item_id(url, title, blocks),
        origin=raw.origin,
        title=title,
        url=url,
        source=source,
        published=published,
        blocks=blocks,
        author=author,
        weight=raw.weight,
        theme_hint=raw.theme_hint,
        tags=parse_tags(ev.front.get("tags")),
    )
    return Cleaned((item,), tuple(notes), tuple(dropped))


def _edition_mail(html: str, title: str) -> mailhtml.Mail | None:
    """A newsletter edition saved as HTML (an e-mail), as the markdown the splitter reads.

    trafilatura keeps only an e-mail's longest passages and loses the headings,
    numbering and links that tell one story from the next; anything that is not
    an edition still goes to trafilatura as before.
    """
    if not edition.may_be_edition(title, html):
        return None
    mail = mailhtml.to_markdown(html)
    title = title or mail.title or ""
    return mail if edition.is_edition(title, mail.markdown.split("\n")) else None


def _from_feed(raw: RawItem) -> bool:
    """Feed entries carry the feed's URL in their metadata (see digest.collect)."""
    return raw.meta_value("feed") is not None


def _clean_feed_entry(raw: RawItem, text: str, ev: Evidence, dropped: list[Note]) -> Cleaned:
    """A feed entry: the publisher's own title, link and date are the best evidence there
    is, and its HTML (already sanitised) has no scraper scaffolding to strip."""
    url = _choose_url(ev)
    published = _parse_date(ev.front.get("date")) or (date_in_url(url) if url else None)
    blocks = html_to_blocks(text, url)
    source = _choose_source(ev, url)
    title = _without_site_name(ev.front.get("title") or _title_from_blocks(blocks), source)
    if is_sponsored(title, blocks[0].text if blocks else ""):
        dropped.append(Note("clean", raw.origin, f"a sponsor's post, not news: {title!r}"))
        return Cleaned((), (), tuple(dropped))
    blocks = _drop_boilerplate(blocks, title, raw.origin, dropped)
    if not blocks and not (url and ev.front.get("title")):
        dropped.append(Note("clean", raw.origin, "no article text left after cleaning"))
        return Cleaned((), (), tuple(dropped))
    item = Item(
        id=item_id(url, title, blocks),
        origin=raw.origin,
        title=title,
        url=url,
        source=source,
        published=published,
        blocks=blocks,
        author=ev.front.get("author") or None,
        weight=raw.weight,
        theme_hint=raw.theme_hint,
        tags=parse_tags(ev.front.get("tags")),
        # a headline and a link with no text (Hacker News, journal contents) is a brief
        kind="article" if blocks else "brief",
    )
    return Cleaned((item,), (), tuple(dropped))


def _title_from_blocks(blocks: tuple[Block, ...]) -> str:
    for block in blocks:
        first = sentences(block.text)[0].rstrip(":;,. ")
        if first:
            return first if len(first) <= 120 else first[:119].rsplit(" ", 1)[0] + "…"
    return "Untitled"


def _one_paragraph_per_line(lines: list[str]) -> list[str]:
    """Plain text that puts each paragraph on one line, with no blank lines between,
    would run together as markdown; give every line its own paragraph."""
    filled = [line for line in lines if line.strip()]
    blank = len(lines) - len(filled)
    if len(filled) < 8 or blank > 0.1 * len(filled):
        return lines
    return [part for line in filled for part in (line, "")]


def item_id(url: str | None, title: str, blocks: tuple[Block, ...]) -> str:
    """Stable across runs: the page's address, else what the item says."""
    key = url or (title + "\n" + "\n".join(b.text for b in blocks))
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _strip_scaffolding(
    lines: list[str], ev: Evidence, origin: str, dropped: list[Note]
) -> list[str]:
    kept: list[str] = []
    in_reader_header = False
    for line in lines:
        stripped = line.strip()
        if match := _SCRAPER_SOURCE.match(stripped):
            ev.scraper_source = (match["name"], match["url"])
            continue
        if _SCRAPER_LINES.match(stripped):
            continue
        if (match := _READER_HEADER.match(stripped)) and (in_reader_header or not _has_text(kept)):
            key = match[1].lower().replace(" ", "_")
            in_reader_header = key != "markdown_content"
            if match[2]:
                ev.reader[key] = match[2].strip()
            continue
        in_reader_header = False
        if ev.heading is None and not _has_text(kept) and stripped.startswith("# "):
            ev.heading = stripped[2:].strip()
            continue
        if (match := _BYLINE.match(stripped)) and len(kept) < 12 and len(stripped) < 120:
            ev.bylines[match[1].lower()] = match["value"].strip()
            continue
        kept.append(line)

    end = _end_of_article(kept)
    if end < len(kept):
        for line in kept[end:]:
            if match := _ORIGINAL_ARTICLE.match(line.strip()):
                ev.original = (match["name"].strip(), match["url"])
        chrome = " / ".join(s.strip() for s in kept[end:] if s.strip())
        dropped.append(
            Note("clean", origin, f"page chrome after the article removed: {chrome[:120]}")
        )
        kept = kept[:end]
    while kept and not kept[-1].strip():
        kept.pop()
    return kept


def _end_of_article(lines: list[str]) -> int:
    """Index of the first chrome line in the last part of the text, else len(lines)."""
    first_allowed = int(len(lines) * 0.6)
    for i, line in enumerate(lines):
        if i >= first_allowed and _END_OF_ARTICLE.match(line.strip()):
            return i
    return len(lines)


def _has_text(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


def _choose_url(ev: Evidence) -> str | None:
    candidates = [
        ev.reader.get("url_source"),
        ev.front.get("url"),
        ev.scraper_source[1] if ev.scraper_source else None,
        ev.original[1] if ev.original else None,
    ]
    for candidate in candidates:
        if candidate and (url := clean_url(candidate)):
            return url
    return None


def _choose_date(ev: Evidence, url: str | None, origin: str, notes: list[Note]) -> dt.date | None:
    reader = _parse_date(ev.reader.get("published_time"))
    front = _parse_date(ev.front.get("date"))
    if reader and front and reader != front:
        notes.append(
            Note("clean", origin, f"date: front matter says {front}, the page says {reader}")
        )
    for candidate in (
        reader,
        front,
        _parse_date(ev.bylines.get("published") or ev.bylines.get("date")),
        date_in_url(url) if url else None,
    ):
        if candidate:
            return candidate
    return None


def _parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    match = re.search(r"(\d{4})-(\d{2})-(\d{2})", value)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _choose_title(
    ev: Evidence, lines: list[str], url: str | None, origin: str, notes: list[Note]
) -> tuple[str, list[str]]:
    """Trust the evidence over the front matter; say so when they disagree."""
    front = ev.front.get("title")
    slug = slug_words(url) if url else set()
    witnesses = [t for t in (ev.reader.get("title"), ev.heading) if t and not _same(t, front)]
    if front and witnesses:
        best = max(witnesses, key=lambda t: _agreement(t, slug))
        if _agreement(best, slug) >= _agreement(front, slug) and (
            ev.reader.get("title") or _agreement(best, slug) > _agreement(front, slug)
        ):
            why = "the page's own title" + (" and its URL" if _agreement(best, slug) else "")
            notes.append(
                Note("clean", origin, f"title: front matter said {front!r}; {why} say {best!r}")
            )
            return best, lines
    if front:
        return front, lines
    if ev.reader.get("title"):
        return ev.reader["title"], lines
    if ev.heading:
        return ev.heading, lines
    return _title_from_text(lines, origin, notes)


def _title_from_text(lines: list[str], origin: str, notes: list[Note]) -> tuple[str, list[str]]:
    """A file with no metadata: its first line if that reads like a headline."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        words = stripped.split()
        if len(words) <= 25 and not re.search(r"[.:;,!?]$", stripped) and "<" not in stripped:
            rest = _drop_category_label(lines[i + 1 :], stripped)
            notes.append(Note("clean", origin, f"title taken from the first line: {stripped!r}"))
            return stripped, rest
        first = sentences(re.sub(r"\s+", " ", stripped))[0].rstrip(":;,. ")
        notes.append(
            Note("clean", origin, f"no title anywhere; the first sentence stands in: {first!r}")
        )
        return first, lines
    return "Untitled", lines


def _drop_category_label(lines: list[str], title: str) -> list[str]:
    """A short label right under the headline whose words are all in it ("Solid-State")."""
    title_words = set(title.lower().split())
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        words = stripped.lower().split()
        if len(words) <= 3 and all(w in title_words for w in words):
            return lines[:i] + lines[i + 1 :]
        return lines
    return lines


def _choose_source(ev: Evidence, url: str | None) -> str | None:
    """The outlet's name: what the file says, unless it is a bare host name and the
    URL belongs to an outlet we know by name ("Electrek.co" is Electrek)."""
    known = outlet_for(url) if url else None
    for candidate in (
        ev.front.get("source"),
        ev.scraper_source[0] if ev.scraper_source else None,
        ev.original[0] if ev.original else None,
    ):
        if candidate:
            looks_like_host = "." in candidate and " " not in candidate
            if looks_like_host and known and "." not in known:
                return known
            return candidate
    return known


def _mostly_link_references(blocks: tuple[Block, ...]) -> bool:
    """Text-browser dumps of home pages are lists of "[12]Headline" references."""
    labels = sum(len(re.findall(r"\[\d+\][^\W\d]", b.text)) for b in blocks)
    return labels >= 20 and labels / len(blocks) > 0.15


def _without_site_name(title: str, source: str | None) -> str:
    """Page titles often end in the site's name: "SBF regrets … | TechCrunch"."""
    match = re.fullmatch(r"(?P<head>.{12,}?)\s+[|–—-]\s+(?P<tail>[^|–—]{2,80})", title)
    if not match or not source:
        return title
    tail, name = match["tail"].lower(), source.lower()
    if tail.startswith(name[:12]) or name.startswith(tail[:12]):
        return match["head"].strip()
    return title


# arXiv's feeds open every abstract with the paper's id, after its title: "arXiv:2403.18195v1
# Announce Type: cross Abstract: Autonomous assembly …", or "(arXiv:2307.05385v1 [eess.SP])".
_ARXIV_HEADER = re.compile(
    r"^.{0,300}?(?:\barXiv:\d{4}\.\d{4,5}(?:v\d+)?\s+Announce Type:\s*[\w-]+\s+Abstract:"
    r"|\(arXiv:\d{4}\.\d{4,5}(?:v\d+)?\s+\[[\w.-]+\]\))\s*"
)


def _drop_boilerplate(
    blocks: tuple[Block, ...], title: str, origin: str, dropped: list[Note]
) -> tuple[Block, ...]:
    kept = []
    for block in blocks:
        if header := _ARXIV_HEADER.match(block.text):
            block = replace(block, text=block.text[header.end() :])
        if block.kind == "heading" and _same(block.text, title):
            continue
        if is_boilerplate(block.text):
            dropped.append(Note("clean", origin, f"boilerplate removed: {block.text[:80]!r}"))
            continue
        kept.append(block)
    return tuple(kept)


def _edition_name(title: str, source: str | None, lines: list[str]) -> str:
    """The newsletter's own name: its sender's ("The Download from MIT Technology
    Review"), else the part of the title before a colon ("The Download: …"), else
    the masthead it prints."""
    if source and (match := re.fullmatch(r"(?P<name>.+?) from .+", source)):
        return match["name"]
    if ":" in title:
        return title.split(":", 1)[0].strip()
    return edition.masthead(lines) or title


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", re.sub("[’']", "", text.lower())) if w}


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b) and _words(a or "") == _words(b or "")


def _agreement(title: str, slug: set[str]) -> float:
    if not slug:
        return 0.0
    return len(_words(title) & slug) / len(slug)
