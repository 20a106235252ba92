"""Text primitives shared by the cleaning stages: repair, markup to blocks, sentences.

Both markdown (local files) and HTML (feed entries) end up as the same plain
blocks, so everything after this module deals with words, never with markup.

ftfy and markdown-it are imported when first needed: `digest collect` uses this
module only to read HTML titles and would otherwise pay a tenth of a second at
every start for them.
"""

from __future__ import annotations

import functools
import html
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from digest.models import Block, BlockKind, Link
from digest.urls import clean_url

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True})


# Runs of characters that the Mac Roman code page produces from UTF-8 bytes.
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{2,}")


def repair_text(text: str) -> str:
    """Undo mojibake, keep typography.

    ftfy does the heavy lifting; it leaves alone Mac Roman mojibake of emoji
    (a private-use Apple logo plus accented letters), so runs of non-ASCII that
    decode cleanly once read back as Mac Roman bytes are repaired here too.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        return text
    import ftfy

    text = ftfy.fix_text(text, uncurl_quotes=False, normalization="NFC")
    return _NON_ASCII_RUN.sub(_undo_mac_roman, text)


def _undo_mac_roman(match: re.Match[str]) -> str:
    run = match.group(0)
    try:
        fixed = run.encode("mac_roman").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return run
    return fixed if len(fixed) < len(run) else run


def markdown_to_blocks(markdown: str, base_url: str | None = None) -> tuple[Block, ...]:
    return html_to_blocks(_markdown().render(markdown), base_url)


def inline_markdown(markdown: str, base_url: str | None = None) -> tuple[str, tuple[Link, ...]]:
    """One line of markdown as plain words plus the links it carried."""
    blocks = html_to_blocks(_markdown().renderInline(markdown), base_url)
    text = " ".join(b.text for b in blocks)
    links = tuple(link for b in blocks for link in b.links)
    return text, links


_BLOCK_TAGS: dict[str, BlockKind] = {
    "p": "paragraph",
    "div": "paragraph",
    "section": "paragraph",
    "article": "paragraph",
    "h1": "heading",
    "h2": "heading",
    "h3": "heading",
    "h4": "heading",
    "h5": "heading",
    "h6": "heading",
    "li": "list_item",
    "blockquote": "quote",
    "pre": "paragraph",
    "tr": "paragraph",
    "dt": "paragraph",
    "dd": "paragraph",
    "figcaption": "paragraph",
}
# A <figure> is a picture and its caption ("Enlarge / The library. (credit: Getty)"):
# nothing a reader without the picture can use.
_DROP_TAGS = frozenset(
    {"script", "style", "noscript", "iframe", "svg", "form", "button", "nav", "figure"}
)


class _BlockBuilder(HTMLParser):
    """Walks HTML and cuts it into blocks; text outside any block tag is a paragraph."""

    def __init__(self, base_url: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.blocks: list[Block] = []
        self.kinds: list[BlockKind] = []
        self.words: list[str] = []
        self.links: list[Link] = []
        self.href: str | None = None
        self.anchor_words: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_TAGS:
            self.dropping += 1
        elif tag in _BLOCK_TAGS:
            self.flush()
            kind = _BLOCK_TAGS[tag]
            if kind == "paragraph" and self.kinds and self.kinds[-1] in ("list_item", "quote"):
                kind = self.kinds[-1]  # a loose list wraps its items in <p>
            self.kinds.append(kind)
        elif tag == "br":
            self.words.append("\n")
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.anchor_words = []
        elif tag == "img":
            alt = dict(attrs).get("alt") or ""
            if alt and not re.fullmatch(r"(?i)image\s*\d*", alt.strip()):
                self.handle_data(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_TAGS:
            self.dropping = max(0, self.dropping - 1)
        elif tag in _BLOCK_TAGS:
            self.flush()
            if self.kinds:
                self.kinds.pop()
        elif tag == "a" and self.href is not None:
            url = clean_url(self.href, self.base_url)
            text = _squash("".join(self.anchor_words))
            if url and text:
                self.links.append(Link(text=text, url=url))
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        self.words.append(data)
        if self.href is not None:
            self.anchor_words.append(data)

    def flush(self) -> None:
        text = _squash("".join(self.words))
        if text:
            kind = self.kinds[-1] if self.kinds else "paragraph"
            self.blocks.append(Block(kind=kind, text=text, links=tuple(self.links)))
        self.words = []
        self.links = []

    def close(self) -> None:
        super().close()
        self.flush()


def html_to_blocks(markup: str, base_url: str | None = None) -> tuple[Block, ...]:
    builder = _BlockBuilder(base_url)
    builder.feed(markup)
    builder.close()
    return tuple(builder.blocks)


def _squash(text: str) -> str:
    text = html.unescape(text).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


# Abbreviations whose full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    (
        "mr mrs ms dr prof sr jr st vs etc e.g i.e inc ltd co corp u.s u.k u.n "
        "jan feb mar apr jun jul aug sep sept oct nov dec no fig approx rev vol"
    ).split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """Split text into sentences, keeping abbreviations and decimals intact."""
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].rstrip(".").lower()
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
            continue
        parts.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


# Sentences and paragraphs that are site furniture, not reporting.
BOILERPLATE = tuple(
    re.compile(p, re.I)
    for p in (
        r"What[’']s Next series",
        r"^You can read the rest of them here",
        r"^A location I care about is\.?$",  # a sign-up widget's form label
        r"^(Sign up|Subscribe)\b.{0,80}(newsletter|inbox)",
        r"^This is today[’']s edition of",
        r"^(If )?you were forwarded this\b",  # "… and you'd like to receive it, subscribe here"
        r"^Copyright\s*(©|\(c\)|\d{4})|©.{0,80}\ball rights reserved\b",
        r"^(Share|Tweet|Email|Print)( this)?( article)?$",
        r"^Advertisement$",
        r"^Read the full story\.?$",
        r"^(Read|See) (why|more|the rest)\b.{0,120}$",
        r"^(Image|Photo|Photograph|Illustration|Video)( \d+| attribution| credits?| source)?\s*:",
        r"\b(Getty Images|Shutterstock|AP Photo|Photo (by|credit)|Image credits?)\b",
        r"\bPhotographer\s*:",  # the caption a feed gives in place of a summary
        r"^(An? |The )?(Photo|Image|Picture|Screenshot|Illustration)s? (of|showing)\b",  # alt text
        r"\(credit:\s*[^)]{1,80}\)",
        r"\bpic\.twitter\.com/",  # an embedded tweet, not the story's own words
        r"\b(pictured|shown|seen) (above|below|here)\b",
        r"\((above|below|pictured)\)",
        r"\b(in|from) (the|this) (photo|image|picture|video|chart) (above|below)\b",
        r"^By [A-Z][\w'’.-]+( [A-Z][\w'’.-]+){0,3}( and [A-Z][\w'’.-]+( [A-Z][\w'’.-]+){0,3})?\.?$",
        r"^(Click|Tap) (here|to)\b",
        r"^(Watch|Listen|Related|Read more|Also read)\s*:",
        r"^The post .{1,300} (appeared first|first appeared) on .{1,120}$",  # WordPress footer
        r"^Continue reading\b.{0,120}$",
        r"^Read (the )?full (article|story|post)\b.{0,40}$",
        r"^(\d+ )?Comments?$",
        # what hnrss.org puts in every entry: the links and counts, not the story
        r"^(Article|Comments) URL:\s*\S*$",
        r"^Points:\s*\d+$",
        r"^# Comments:\s*\d+$",
    )
)


def is_boilerplate(text: str) -> bool:
    return any(p.search(text) for p in BOILERPLATE)


# "[Sponsor] Timing — …", "Sponsored: …", "… (Sponsor)", and the thank-you note a blog
# posts for its sponsor ("My thanks to Squarespace for sponsoring last week's feed").
_SPONSORED_TITLE = re.compile(
    r"^\s*[\[(]\s*(?:sponsor(?:ed)?|ad|advertisement|partner content)\s*[\])]"
    r"|^\s*(?:sponsor(?:ed)?(?: post| content)?|advertisement|paid post)\s*[:|—–]"
    r"|\((?:sponsor(?:ed)?|ad)\)\s*$",
    re.I,
)
_SPONSOR_THANKS = re.compile(r"^(?:my|our)?\s*thanks to .{1,80}? for sponsoring\b", re.I)


def is_sponsored(title: str, opening: str) -> bool:
    """A paid post: the title says so, or its opening sentence thanks the sponsor."""
    return bool(_SPONSORED_TITLE.search(title) or _SPONSOR_THANKS.match(opening.strip()))


def word_count(text: str) -> int:
    return len(text.split())


def truncate_words(text: str, max_words: int) -> str:
    """At most max_words words, cut at a word boundary with an ellipsis."""
    words = text.split()
    if len(words) <= max_words:
        return text
    return " ".join(words[:max_words]).rstrip(",;:—-") + "…"
