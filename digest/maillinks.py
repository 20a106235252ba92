"""A saved e-mail's tracked links, put back to the addresses they stand for.

Mailchimp (and mailers like it) rewrite every link of the HTML part into a
click-tracking redirect (`…list-manage.com/track/click?u=…&id=…&e=…`) whose
destination cannot be read off the URL: it is an opaque id, and `e` names the
subscriber, so following it would report a click for them. The plain-text part
that comes with the same message still gives every link's real address, in the
same order, as "words (address)" or a bare address for an image link. Pairing
the two parts' links in order, and only where their words agree, recovers each
destination without guessing; a link that cannot be paired keeps its redirect,
which `digest.urls.clean_url` then refuses to show.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

# An address in the plain-text part; it may hold balanced parentheses (Wikipedia).
_ADDRESS = re.compile(r"(?:https?|mailto):(?:[^\s()<>]|\([^\s()<>]*\))+")
_HREF = re.compile(r"""(?P<attr>\bhref\s*=\s*)(?P<q>["'])(?P<url>.*?)(?P=q)""", re.I | re.S)
_LOOK_AHEAD = 3


@dataclass(frozen=True)
class _Link:
    words: str
    url: str
    alt: str = ""  # an image link's alt text, which the plain part may show as its words


@dataclass(frozen=True)
class Restored:
    html: str
    restored: int
    unpaired: tuple[str, ...]  # links the plain part does not account for, left as they were


class _Anchors(HTMLParser):
    """The HTML part's links in order, with the words each one shows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[_Link] = []
        self.href: str | None = None
        self.words: list[str] = []
        self.alts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and self.href is None and values.get("href") is not None:
            self.href, self.words, self.alts = values["href"], [], []
        elif tag == "img" and self.href is not None:
            self.alts.append(values.get("alt") or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href is not None:
            words, alt = _words("".join(self.words)), _words(" ".join(self.alts))
            self.links.append(_Link(words, self.href.strip(), alt))
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.href is not None:
            self.words.append(data)


def _words(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).lower()


def _plain_links(plain: str) -> list[_Link]:
    links = []
    for match in _ADDRESS.finditer(plain):
        before = plain[: match.start()]
        words = ""
        if before.endswith("("):
            words = _words(before[-400:-1])  # the words may wrap onto earlier lines
        links.append(_Link(words, match[0]))
    return links


def _agree(html_link: _Link, plain_link: _Link) -> bool:
    """The plain part shows a link's words before its address; an image link shows its
    alt text or nothing."""
    if not html_link.words:
        alt = html_link.alt
        return not plain_link.words or (bool(alt) and plain_link.words.endswith(alt))
    return plain_link.words.endswith(html_link.words)


def _pairs(
    html_links: list[_Link], plain_links: list[_Link]
) -> tuple[dict[str, str | None], set[int]]:
    """Each rewritten address and where it goes (None when two pairings disagree), and
    which of the HTML part's links found a partner."""
    found: dict[str, str | None] = {}
    paired: set[int] = set()
    i = j = 0
    while i < len(html_links) and j < len(plain_links):
        if not _agree(html_links[i], plain_links[j]):
            skip = next(
                (
                    (di, dj)
                    for d in range(1, _LOOK_AHEAD + 1)
                    for di, dj in ((0, d), (d, 0))
                    if i + di < len(html_links)
                    and j + dj < len(plain_links)
                    and _agree(html_links[i + di], plain_links[j + dj])
                ),
                None,
            )
            if skip is None:
                i, j = i + 1, j + 1
                continue
            i, j = i + skip[0], j + skip[1]
        href, url = html_links[i].url, plain_links[j].url
        if href != url:
            found[href] = url if found.get(href, url) == url else None
        paired.add(i)
        i, j = i + 1, j + 1
    return found, paired


def restore_links(html_part: str, plain_part: str) -> Restored:
    """The HTML part with each tracked link replaced by the address the plain part gives."""
    anchors = _Anchors()
    anchors.feed(html_part)
    anchors.close()
    pairs, paired = _pairs(anchors.links, _plain_links(plain_part))
    unpaired = tuple(
        link.url
        for n, link in enumerate(anchors.links)
        if n not in paired and pairs.get(link.url) is None
    )
    restored = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal restored
        url = pairs.get(html.unescape(match["url"]).strip())
        if url is None:
            return match[0]
        restored += 1
        return f"{match['attr']}{match['q']}{html.escape(url)}{match['q']}"

    rewritten = _HREF.sub(swap, html_part)
    return Restored(rewritten, restored, unpaired)
