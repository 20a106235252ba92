"""Parse a fetched feed's bytes into plain entries: RSS and Atom through feedparser,
JSON Feed through the json module.

feedparser runs with its own sanitising and link resolving off (about twice as
fast); entry HTML then goes once through nh3, an allow-list sanitiser, which
also resolves relative links against the entry's base and drops every link
that is not http(s). Titles stay plain text: `<script>` in a title is words.
This module is pure and its results are plain data, so it can run in worker
processes.

feedparser's hottest helpers are replaced by exact shortcuts (see
`feedparser_speedups`); feedparser still parses every entry.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import hashlib
import html
import io
import json
import re
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3

from digest import feedparser_speedups
from digest.tags import unique_tags
from digest.text import html_to_blocks

URL_SCHEMES = frozenset({"http", "https"})
# An internal DTD subset whose entities refer to other entities or to outside
# files: the shape of a billion-laughs or an external-entity attack.
_DANGEROUS_ENTITY = re.compile(
    rb"<!ENTITY\s+%?\s*[\w.:-]+\s+(?:SYSTEM|PUBLIC|\"[^\"]*&[A-Za-z_]|'[^']*&[A-Za-z_])"
)
# Problems feedparser flags that say nothing about the feed being damaged.
_HARMLESS_BOZO = (
    feedparser.CharacterEncodingOverride,
    feedparser.NonXMLContentType,
)


feedparser_speedups.apply()


@dataclass(frozen=True)
class Entry:
    guid: str
    url: str | None
    title: str
    html: str
    published: str | None = None  # ISO 8601, UTC
    author: str | None = None
    tags: tuple[str, ...] = ()  # the feed's own categories for the entry


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's entries; `problem` says why it is unusable (`fatal`) or damaged."""

    title: str | None
    entries: tuple[Entry, ...]
    problem: str | None = None
    fatal: bool = False


# What a feed's title says about itself rather than its publisher.
_FEED_WORDS = re.compile(
    r"(?:all |the )?(?:content|posts|articles|stories|news|headlines)|article feed|rss(?: feed)?"
    r"|atom(?: feed)?|feed|front ?page|top stories|latest(?: news| articles| stories| posts)?"
    r"|últimas notícias|últimas noticias|home(?: ?page)?|blog",
    re.I,
)
_FEED_TITLE_PARTS = re.compile(r"\s+[-|–—:]\s+")


def outlet_name(feed_title: str) -> str:
    """The publisher's name in a feed's title: "Electrek - Article Feed" is Electrek,
    "Ars Technica - All content" Ars Technica, "Engadget RSS Feed" Engadget and
    "Business and financial news - CNNMoney.com" CNNMoney.com."""
    title = re.sub(r"\s+(?:rss|atom)(?: feed)?$", "", " ".join(feed_title.split()), flags=re.I)
    parts = _FEED_TITLE_PARTS.split(title)
    if len(parts) == 2:
        head, tail = parts
        if _FEED_WORDS.fullmatch(tail):
            return head
        if re.fullmatch(r"[\w\s]*\b(?:news|articles|stories|headlines)", head, re.I):
            return tail
    return title


def parse_feed(
    body: bytes, content_type: str | None, url: str, max_bytes: int = 10_000_000
) -> ParsedFeed:
    if body.startswith(b"\x1f\x8b"):  # gzip sent without Content-Encoding
        unzipped = _gunzip(body, max_bytes)
        if unzipped is None:
            return ParsedFeed(None, (), "gzip data that is corrupt or too large", fatal=True)
        body = unzipped
    if body[:1] in (b" ", b"\t", b"\r", b"\n"):
        body = body.lstrip(b" \t\r\n")  # whitespace before <?xml is an XML error
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if (content_type and "json" in content_type.lower()) or head.startswith(b"{"):
        return parse_json_feed(body, url)
    if _DANGEROUS_ENTITY.search(body[:65536]):
        return ParsedFeed(
            None,
            (),
            "looks like an entity bomb (its DTD declares entities that expand other "
            "entities or read files); not parsed",
            fatal=True,
        )
    # Without a content type feedparser assumes an HTTP text default (Latin-1)
    # and never tries the XML declaration or charset detection.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    data = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    problem = None
    if data.get("bozo") and not isinstance(data.get("bozo_exception"), _HARMLESS_BOZO):
        problem = _bozo_reason(data.get("bozo_exception"))
    feed = data.get("feed", {})
    if not data.entries:
        if not data.get("version") and not feed.get("title"):
            why = f"not RSS, Atom or JSON Feed ({problem})" if problem else "not a feed"
            return ParsedFeed(None, (), why, fatal=True)
        if problem:
            why = f"truncated or malformed, no entry could be read ({problem})"
            return ParsedFeed(_plain(feed.get("title_detail")), (), why, fatal=True)
        return ParsedFeed(_plain(feed.get("title_detail")), ())
    entries = tuple(e for e in (_entry(raw, url) for raw in data.entries) if e is not None)
    if problem:
        problem = f"malformed feed ({problem}); kept the {len(entries)} entries that could be read"
    return ParsedFeed(_plain(feed.get("title_detail")), entries, problem)


def _entry(raw: Any, feed_url: str) -> Entry | None:
    link = _http(raw.get("link"))
    title = _plain(raw.get("title_detail"))
    content = _best_content(raw)
    base = _http((content or {}).get("base")) or link or feed_url
    body = sanitise(_as_html(content), base) if content else ""
    if not (title or body or link):
        return None
    published = _iso(raw.get("published_parsed") or raw.get("updated_parsed"))
    guid = str(raw.get("id") or link or _digest(title + "\n" + body))
    author = raw.get("author") or None
    return Entry(
        guid=guid,
        url=link,
        title=title,
        html=body,
        published=published,
        author=author,
        tags=_tags(raw.get("tags")),
    )


def _tags(tags: Any) -> tuple[str, ...]:
    """The entry's categories by their readable label (Atom's `label`, else the term)."""
    return unique_tags(str(tag.get("label") or tag.get("term") or "") for tag in tags or ())


def _best_content(raw: Any) -> Any:
    """The full text when the feed has it (HTML first), else the summary."""
    contents = list(raw.get("content") or [])
    contents.sort(key=lambda c: "html" not in str(c.get("type", "")))
    if contents and contents[0].get("value"):
        return contents[0]
    return raw.get("summary_detail") or None


def _as_html(detail: Any) -> str:
    value = str(detail.get("value") or "")
    if "html" in str(detail.get("type", "text/html")):
        return value
    return "".join(f"<p>{html.escape(p.strip())}</p>" for p in value.split("\n\n") if p.strip())


def _plain(detail: Any) -> str:
    """A title as plain words: markup in an HTML title is dropped, text stays text."""
    if not detail:
        return ""
    value = str(detail.get("value") or "")
    if "html" in str(detail.get("type", "")):
        value = " ".join(b.text for b in html_to_blocks(value))
    return " ".join(value.split())


def sanitise(markup: str, base: str) -> str:
    """Entry HTML through the allow-list, relative links resolved against `base`."""
    return _sanitiser(_http(base)).clean(markup)


@functools.lru_cache(maxsize=64)
def _sanitiser(base: str | None) -> nh3.Cleaner:
    """An nh3 cleaner for one base address: a feed's entries mostly share one, and
    building the cleaner costs as much as cleaning an entry."""
    relative: Any = ("rewrite_with_base", base) if base else "deny"
    return nh3.Cleaner(url_schemes=set(URL_SCHEMES), url_relative=relative)


def _http(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    url = url.strip()
    if url.startswith(("http://", "https://")):  # urlsplit's answer, without splitting
        return url
    return url if url and urlsplit(url).scheme in URL_SCHEMES else None


def _iso(parsed: time.struct_time | None) -> str | None:
    if not parsed:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return None


def _gunzip(body: bytes, max_bytes: int) -> bytes | None:
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        return None
    return None if len(data) > max_bytes else data


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _bozo_reason(exc: object) -> str:
    if exc is None:
        return "malformed"
    line = getattr(exc, "getLineNumber", None)
    message = getattr(exc, "getMessage", None)
    if callable(line) and callable(message):
        return f"line {line()}: {message()}"
    return str(exc) or type(exc).__name__


# JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1)


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ParsedFeed(None, (), f"not valid JSON: {exc}", fatal=True)
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        return ParsedFeed(None, (), "JSON, but not a JSON Feed (no jsonfeed.org version)", True)
    base = _http(data.get("home_page_url")) or _http(data.get("feed_url")) or url
    title = _json_text(data.get("title")) or None
    items = data.get("items")
    if not isinstance(items, list):
        return ParsedFeed(title, (), "a JSON Feed without an items list", fatal=True)
    entries = []
    skipped = 0
    for item in items:
        entry = _json_entry(item, base) if isinstance(item, dict) else None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    problem = f"{skipped} items were not usable and were skipped" if skipped else None
    return ParsedFeed(title, tuple(entries), problem)


def _json_entry(item: dict[str, Any], base: str) -> Entry | None:
    link = _http(urljoin(base, str(item["url"]))) if item.get("url") else None
    link = link or (_http(str(item["external_url"])) if item.get("external_url") else None)
    title = _json_text(item.get("title"))
    if isinstance(item.get("content_html"), str):
        markup = item["content_html"]
    elif isinstance(item.get("content_text"), str):
        markup = _as_html({"value": item["content_text"], "type": "text/plain"})
    elif isinstance(item.get("summary"), str):
        markup = _as_html({"value": item["summary"], "type": "text/plain"})
    else:
        markup = ""
    body = sanitise(markup, link or base) if markup else ""
    if not (title or body or link):
        return None
    published = _json_date(item.get("date_published") or item.get("date_modified"))
    guid = str(item.get("id") or link or _digest(title + "\n" + body))
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    author = next((str(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")), None)
    tags = item.get("tags")
    tags = tags if isinstance(tags, list) else []
    return Entry(
        guid=guid,
        url=link,
        title=title,
        html=body,
        published=published,
        author=author,
        tags=unique_tags(tag for tag in tags if isinstance(tag, str)),
    )


def _json_text(value: object) -> str:
    """JSON Feed titles are plain text, but many publishers leave HTML entities in them."""
    if not isinstance(value, str):
        return ""
    return " ".join(html.unescape(value).split())


def _json_date(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat()
