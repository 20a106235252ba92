"""Tags: the sections and topics a source itself filed an item under.

A feed entry's categories (RSS `<category>`, Atom `<category label>`, JSON Feed
`tags`), a local file's front-matter `tags` / `categories` / `keywords`, and a
saved page's own categories and tags. They travel as one `tags` metadata value,
a tag per line, and are an editor's word on what the item is about: the themes
stage counts them as it counts the headline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_TAGS = 12  # a feed that files an entry under fifty tags says nothing with them
MAX_TAG_CHARS = 60
KEYS = ("tags", "categories", "keywords")  # front-matter keys read as tags, first found
_SEPARATOR = re.compile(r"\s*[\n,;]\s*")


def unique_tags(values: Iterable[str]) -> tuple[str, ...]:
    """Tags in their first spelling, each once (case aside), at most MAX_TAGS."""
    seen: set[str] = set()
    found: list[str] = []
    for value in values:
        tag = " ".join(value.split()).strip("#")
        if not tag or len(tag) > MAX_TAG_CHARS or "://" in tag or tag.lower() in seen:
            continue
        seen.add(tag.lower())
        found.append(tag)
        if len(found) == MAX_TAGS:
            break
    return tuple(found)


def join_tags(tags: Iterable[str]) -> str:
    """The metadata value: one tag per line."""
    return "\n".join(unique_tags(tags))


def parse_tags(value: str | None) -> tuple[str, ...]:
    """A metadata value back into tags: one per line, or a line of them separated by
    commas or semicolons (`keywords: ai, chips` in front matter)."""
    if not value:
        return ()
    return unique_tags(_SEPARATOR.split(value))
