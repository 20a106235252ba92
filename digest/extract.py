"""Saved web pages: the article and its metadata out of a whole page of site chrome.

A page saved from a browser is mostly navigation, ads, share bars and related
links around one article. trafilatura (a maintained main-content extractor)
finds the article and reads the page's own metadata (title, site name, author,
date, canonical URL); the article comes back as markdown, so it goes on through
the same cleaning as any other local file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import trafilatura

from digest.tags import join_tags

_FULL_PAGE = re.compile(r"<(!doctype\s+html|html|head|body)\b", re.I)

# trafilatura logs every page it finds too short; the build report says what matters.
logging.getLogger("trafilatura").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Page:
    markdown: str
    meta: dict[str, str]


def is_full_page(html: str) -> bool:
    return bool(_FULL_PAGE.search(html[:5000]))


def article(page: str | bytes, output_format: str) -> str | None:
    """A page's main article as "markdown" or "html", links and emphasis kept, images,
    tables and comments left out; or None if it has none. Bytes are decoded by the
    page's own charset declaration."""
    text: str | None = trafilatura.extract(
        page,
        output_format=output_format,
        include_links=True,
        include_formatting=True,
        include_images=False,
        include_tables=False,
        include_comments=False,
        with_metadata=False,
    )
    return text


def extract_page(html: str) -> Page | None:
    """The main article as markdown plus the page's metadata, or None if it has none."""
    markdown = article(html, "markdown")
    if not markdown:
        return None
    doc = trafilatura.bare_extraction(html, with_metadata=True, only_with_metadata=False)
    meta: dict[str, str] = {}
    if doc is not None:
        for ours, theirs in (
            ("title", "title"),
            ("url", "url"),
            ("date", "date"),
            ("source", "sitename"),
            ("author", "author"),
        ):
            value = getattr(doc, theirs, None)
            if value and isinstance(value, str):
                meta[ours] = value.strip()
        # the page's own sections and keywords (article:section, article:tag)
        tags = [*(getattr(doc, "categories", None) or []), *(getattr(doc, "tags", None) or [])]
        if joined := join_tags(str(tag) for tag in tags):
            meta["tags"] = joined
    if meta.get("source", "").startswith(("http://", "https://")):
        del meta["source"]  # a bare host is no outlet name; the URL will give one
    return Page(markdown=_dedent(markdown), meta=meta)


def _dedent(markdown: str) -> str:
    """trafilatura keeps the page's source indentation, which markdown reads as code."""
    return "\n".join(line.strip() for line in markdown.split("\n"))
