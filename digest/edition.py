"""Split a newsletter edition (The Download, TLDR and their kin) into the stories it holds.

An edition is one file but a dozen pieces of news. The Download's shape: lead
stories, a numbered list of must-reads with `+` related links, a quote of the
day and "one more thing". A link list's shape (TLDR; read by `digest.linklist`):
linked headlines, each with a paragraph. Each story becomes an item credited to
the outlet it links to, so that it can merge with other tellings of the same
news and be themed on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from dataclasses import dataclass

from digest import linklist
from digest.models import Item, Link, Note, Quote
from digest.text import inline_markdown, is_boilerplate, markdown_to_blocks, word_count
from digest.urls import clean_url, date_in_url, outlet_for

_SECTIONS = {
    "the must-reads": "must_reads",
    "quote of the day": "quote",
    "one more thing": "one_more",
    "the big story": "one_more",
    "we can still have nice things": "skip",
}
_HEADING = re.compile(r"^\*\*(?P<text>.+?)\*\*\s*$")
_NUMBERED = re.compile(r"^(?P<n>\d{1,2})\s+(?P<title>.+)$")
_AUTHOR = re.compile(r"^_?—\s*(?P<name>[^_]+?)_?\s*$")
_IMAGE_ONLY = re.compile(r"^\[?!\[[^\]]*\]\([^)]*\)(\]\([^)]*\))?\s*$")
_CREDIT = re.compile(r"\(\s*\[(?P<name>[^\]]+)\]\((?P<url>[^)\s]+)\)\s*(?P<paywall>\$)?\s*\)\s*$")
# "—Who, [Outlet](url) reports" or "—Who, tells [the Outlet](url) …" and kin.
_QUOTE_CREDIT = re.compile(
    r"^_?—\s*(?P<who>.+?),?\s+(?:(?P<verb>tells|told|says|said|writes|wrote|according to|to|in)"
    r"\s+)?(?:the\s+)?\[(?P<name>[^\]]+)\]\((?P<url>[^)\s]+)\)\s*(?P<reports>reports?)?"
)
# A heading that is the edition's byline ("By Charlotte Jee • 06.24.24"): the
# greeting under it is furniture, not a story.
_BYLINE = re.compile(r"^by\s+[^•|·]+[•|·]\s*[\d./-]+$", re.I)
# A sponsor's block ("ADVERTISEMENT", then "Sponsored by [Rocket Software](…)").
_SPONSOR = re.compile(
    r"^(advertisement|(sponsored by|in partnership with|presented by)\b.*)$", re.I
)
# A link whose words are a heading or bold: a link list's headline, in HTML.
_LINKED_HTML_HEADING = re.compile(r"<a\b[^>]*>\s*<(?:h[1-6]|strong|b)\b", re.I)
# A dateline set in bold ("November 2023") is not a story's headline.
_DATELINE = re.compile(
    r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\s+\d{1,2},)?\s+\d{4}$",
    re.I,
)


@dataclass(frozen=True)
class Context:
    """What is known about the edition as a whole."""

    origin: str
    name: str
    url: str | None
    published: dt.date | None
    source: str | None
    weight: float = 1.0


@dataclass(frozen=True)
class Split:
    items: tuple[Item, ...]
    dropped: tuple[Note, ...]


@dataclass
class _Entry:
    section: str
    title: str
    lines: list[str]


def may_be_edition(title: str, html: str) -> bool:
    """A cheap first look at a whole page or e-mail, before reading it line by line."""
    if title.lower().startswith("the download") or "must-reads" in html.lower():
        return True
    return len(_LINKED_HTML_HEADING.findall(html, 0, 2_000_000)) >= 3


def is_edition(title: str, lines: list[str]) -> bool:
    return _is_download(title, lines) or linklist.read(lines) is not None


def _is_download(title: str, lines: list[str]) -> bool:
    if title.lower().startswith("the download"):
        return True
    return _has_must_reads(lines)


def _has_must_reads(lines: list[str]) -> bool:
    return any(_heading_text(line) == "the must-reads" for line in lines)


def masthead(lines: list[str]) -> str | None:
    """The name an edition prints at its top: a first heading with no words under it."""
    filled = [line.strip() for line in lines if line.strip()]
    for line, following in itertools.pairwise(filled):
        if _heading_text(line) is not None:
            return inline_markdown(line)[0] if _heading_text(following) is not None else None
    return None


def split(lines: list[str], ctx: Context) -> Split:
    if not _has_must_reads(lines) and (page := linklist.read(lines)) is not None:
        return _split_link_list(page, ctx)
    entries, dropped = _entries(_normalise(lines), ctx)
    items: list[Item] = []
    for n, entry in enumerate(entries):
        item = _to_item(entry, ctx, n)
        if item is None:
            title = inline_markdown(entry.title)[0]
            dropped.append(Note("edition", ctx.origin, f"not a story, skipped: {title!r}"))
        else:
            items.append(item)
    return Split(tuple(items), tuple(dropped))


def _split_link_list(page: linklist.Page, ctx: Context) -> Split:
    """Each linked headline an item, dated by the edition; sponsors, job ads and the
    newsletter's own furniture are left out and reported."""
    name = page.name or ctx.name
    items: list[Item] = []
    dropped: list[Note] = []
    for n, story in enumerate(page.stories):
        title = linklist.plain_title(story.title)
        url = clean_url(story.url)
        if story.not_news or not url or not title or is_boilerplate(title):
            why = story.not_news or "not a story"
            dropped.append(Note("edition", ctx.origin, f"edition {why} removed: {title!r}"))
            continue
        items.append(
            Item(
                id=_id(ctx, url, n),
                origin=ctx.origin,
                title=title,
                url=url,
                source=outlet_for(url),
                published=ctx.published or page.date or date_in_url(url),
                blocks=markdown_to_blocks("\n\n".join(story.paragraphs)),
                kind="brief",
                via=name,
                weight=ctx.weight,
            )
        )
    for line in page.furniture:
        dropped.append(
            Note("edition", ctx.origin, f"edition furniture removed: {line.text[:80]!r}")
        )
    return Split(tuple(items), tuple(dropped))


def _normalise(lines: list[str]) -> list[str]:
    """Put every bold heading on its own line; scrapers glue them to their neighbours."""
    text = "\n".join(line for line in lines if not _IMAGE_ONLY.match(line.strip()))
    text = re.sub(r"(?<=\S)\*\*(?=\d{1,2} [^*\n]+\*\*)", "\n\n**", text)
    text = re.sub(r"(?m)^(\*\*[^*\n]+\*\*)(?=[A-Z“\"])", r"\1\n\n", text)
    text = re.sub(r"(?m)^(\*\*[^*\n]+\*\*)(?=\[)", r"\1\n\n", text)
    return text.split("\n")


def _heading_text(line: str) -> str | None:
    match = _HEADING.match(line.strip())
    return match["text"].strip().lower() if match else None


def _entries(lines: list[str], ctx: Context) -> tuple[list[_Entry], list[Note]]:
    entries: list[_Entry] = []
    dropped: list[Note] = []
    section = "leads"
    current: _Entry | None = None
    skipped_lines = 0
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        heading = _heading_text(stripped)
        if heading in _SECTIONS:
            section = _SECTIONS[heading]
            current = None
            continue
        if section == "skip":
            skipped_lines += 1
            continue
        if heading is not None and _DATELINE.match(heading):
            continue
        plain = inline_markdown(stripped)[0]
        if (heading is not None and _BYLINE.match(heading)) or _SPONSOR.match(plain):
            current = None
            what = "byline" if heading is not None and _BYLINE.match(heading) else "sponsor"
            dropped.append(Note("edition", ctx.origin, f"edition {what} removed: {plain!r}"))
            continue
        if heading is not None and not (section == "quote" and current is not None):
            current = _Entry(section, stripped[2:-2].strip(), [])
            entries.append(current)
        elif current is not None:
            current.lines.append(stripped)
        else:
            dropped.append(
                Note(
                    "edition",
                    ctx.origin,
                    f"edition furniture removed: {inline_markdown(stripped)[0][:80]!r}",
                )
            )
    if skipped_lines:
        dropped.append(
            Note(
                "edition",
                ctx.origin,
                f"light-reading links skipped ({skipped_lines} lines): not news",
            )
        )
    return entries, dropped


def _to_item(entry: _Entry, ctx: Context, n: int) -> Item | None:
    if entry.section == "quote":
        return _quote_item(entry, ctx, n)
    title, _ = inline_markdown(entry.title)
    if is_boilerplate(title):
        return None
    if entry.section == "must_reads":
        title = _NUMBERED.sub(r"\g<title>", title)
    author = None
    related: list[Link] = []
    body: list[str] = []
    for line in entry.lines:
        if match := _AUTHOR.match(line):
            author = inline_markdown(match["name"])[0].strip()
        elif line.startswith("+"):
            related.extend(_related(line[1:].strip()))
        else:
            body.append(line)
    credit = _CREDIT.search(body[-1]) if body else None
    if entry.section == "must_reads" and credit:
        url = credit["url"]
        body[-1] = body[-1][: credit.start()].strip()
        paywalled = bool(credit["paywall"])
        named = credit["name"]
    else:
        url, paywalled, named = _story_link(body), False, None
    blocks = markdown_to_blocks("\n\n".join(body))
    if not blocks or not url:
        return None
    url = clean_url(url)
    if not url:
        return None
    source = outlet_for(url)
    if named and "." in source:
        source = named
    words = sum(word_count(b.text) for b in blocks)
    return Item(
        id=_id(ctx, url, n),
        origin=ctx.origin,
        title=re.sub(r"^TR10:\s*", "", title),
        url=url,
        source=source,
        published=date_in_url(url) or ctx.published,
        blocks=blocks,
        kind="article" if entry.section != "must_reads" and words >= 40 else "brief",
        author=author,
        via=ctx.name,
        related=tuple(related),
        paywalled=paywalled,
        weight=ctx.weight,
    )


def _story_link(body: list[str]) -> str | None:
    """The "Read the full story" link, else a "Read our story …" link, else the first
    link of the last paragraph with one (a story may end on an event sign-up link)."""
    last: str | None = None
    read: str | None = None
    for line in body:
        _, links = inline_markdown(line)
        for link in links:
            if link.text.lower().startswith("read the full story"):
                return link.url
            if read is None and re.match(r"read\b", link.text, re.I):
                read = link.url
        if links:
            last = links[0].url
    return read or last


def _related(markdown: str) -> list[Link]:
    match = _CREDIT.search(markdown)
    if not match:
        return []
    text, _ = inline_markdown(markdown[: match.start()])
    url = clean_url(match["url"])
    if not url or not text:
        return []
    source = outlet_for(url)
    return [Link(text=text, url=url, source=match["name"] if "." in source else source)]


def _quote_item(entry: _Entry, ctx: Context, n: int) -> Item | None:
    words, _ = inline_markdown(entry.title)
    words = words.strip().strip('“”"').strip()
    who, source, url = "", None, None
    for line in entry.lines:
        if match := _QUOTE_CREDIT.match(line):
            who, _ = inline_markdown(match["who"])
            url = match["url"]
            known = outlet_for(clean_url(url) or url)
            source = match["name"] if "." in known else known
            break
    if not words or not who:
        return None
    url = clean_url(url) if url else None
    quote = Quote(text=words, attribution=who, source=source, url=url)
    return Item(
        id=_id(ctx, words, n),
        origin=ctx.origin,
        title=words,
        url=url,
        source=source,
        published=ctx.published,
        blocks=markdown_to_blocks(words),
        kind="quote",
        via=ctx.name,
        quote=quote,
        weight=ctx.weight,
    )


def _id(ctx: Context, key: str, n: int) -> str:
    return hashlib.sha256(f"{ctx.origin}#{n}#{key}".encode()).hexdigest()[:12]
