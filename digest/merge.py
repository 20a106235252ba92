"""Merge items that tell the same story into one story that lists every source.

Two items are the same story when they point at the same page, carry the same
headline, or share most of their wording. Two pieces on one topic (two
solid-state battery articles) are not: they share words, not sentences.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from digest.models import Item, Note, SourceRef, Story
from digest.summarize import blurb
from digest.urls import canonical_url

SHINGLE = 5
SIMILAR = 0.5
MIN_WORDS_FOR_TEXT_MATCH = 30


@dataclass(frozen=True)
class Merged:
    stories: tuple[Story, ...]
    notes: tuple[Note, ...]


def merge(items: list[Item]) -> Merged:
    parent = list(range(len(items)))
    reasons: dict[int, str] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int, why: str) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
            reasons[max(ri, rj)] = why

    by_key: dict[str, int] = {}
    for i, item in enumerate(items):
        for key, why in _keys(item):
            if key in by_key:
                union(by_key[key], i, why)
            else:
                by_key[key] = i

    shingles = [_shingles(item.text) for item in items]
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if find(i) == find(j) or not shingles[i] or not shingles[j]:
                continue
            score = _jaccard(shingles[i], shingles[j])
            if score >= SIMILAR:
                union(i, j, f"{score:.0%} of their wording is shared")

    groups: dict[int, list[Item]] = {}
    for i, item in enumerate(items):
        groups.setdefault(find(i), []).append(item)
    stories = []
    notes = []
    for root, group in sorted(groups.items()):
        story = _story(group)
        stories.append(story)
        if len(group) > 1:
            why = "; ".join(
                sorted({reasons[i] for i in range(len(items)) if find(i) == root and i in reasons})
            )
            origins = ", ".join(sorted({item.origin for item in group}))
            notes.append(
                Note("merge", origins, f"{len(group)} items merged into {story.title!r}: {why}")
            )
    return Merged(tuple(stories), tuple(notes))


def story_keys(story: Story) -> tuple[str, ...]:
    """What marks a story as already published: its items' pages and ids."""
    keys = {item.id for item in story.items}
    keys |= {canonical_url(item.url) for item in story.items if item.url}
    return tuple(sorted(keys))


def _keys(item: Item) -> list[tuple[str, str]]:
    keys = []
    if item.url:
        keys.append(("url:" + canonical_url(item.url), "same page"))
    title = " ".join(_words(item.title))
    if len(title.split()) >= 4:
        keys.append(("title:" + title, "same headline"))
    return keys


def _story(group: list[Item]) -> Story:
    lead = min(group, key=_lead_order)
    url = lead.url or next((i.url for i in group if i.url), None)
    sources: list[SourceRef] = []
    seen = set()
    for item in sorted(group, key=_lead_order):
        if item.source is None:
            continue  # an unattributed file credits no one; its origin is in `items`
        ref = SourceRef(name=item.source, url=item.url, via=item.via)
        if (ref.name, ref.via) not in seen:
            seen.add((ref.name, ref.via))
            sources.append(ref)
    related = []
    seen_urls = {url}
    for item in group:
        for link in item.related:
            if link.url not in seen_urls:
                seen_urls.add(link.url)
                related.append(link)
    dates = sorted(i.published for i in group if i.published)
    return Story(
        id=hashlib.sha256(("|".join(sorted(i.id for i in group))).encode()).hexdigest()[:12],
        title=lead.title,
        url=url,
        source=lead.source,
        published=lead.published or (dates[0] if dates else None),
        summary=blurb(lead),
        items=tuple(sorted(group, key=_lead_order)),
        sources=tuple(sources),
        kind="feature" if any(i.kind == "article" for i in group) else "brief",
        related=tuple(related),
    )


def _lead_order(item: Item) -> tuple[int, int, int, str]:
    """The item that speaks for a story: an article over a brief, the original over a
    newsletter's retelling, then the longest."""
    return (item.kind != "article", item.via is not None, -len(item.text), item.id)


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^\w]+", text.lower().replace("’", "")) if w]


def _shingles(text: str) -> frozenset[int]:
    words = _words(text)[:400]
    if len(words) < MIN_WORDS_FOR_TEXT_MATCH:
        return frozenset()
    return frozenset(
        hash(" ".join(words[i : i + SHINGLE])) for i in range(len(words) - SHINGLE + 1)
    )


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    return len(a & b) / len(a | b)
