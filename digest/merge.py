"""Merge items that tell the same story into one story that lists every source.

Two items are the same story when they point at the same page, carry the same
headline, or are similar enough in their content words (see similarity.py).
Comparing every pair would be quadratic, so MinHash LSH (datasketch's, computed
for all items at once with numpy) proposes candidate pairs and only those are
scored: grouping stays near-linear in the number of items. Every merge is
explained: each item of a story carries how it was matched to the story's lead item.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt
from datasketch import MinHash, MinHashLSH

from digest.models import Item, Match, Note, SourceRef, Story
from digest.similarity import Scorer, Words, content_tokens, content_words, features
from digest.urls import canonical_url

SAME_STORY = 0.40
SAME_NAMES = 0.13  # ... or this alike, when both headlines carry the same two rare names
NAMES_DAYS_APART = 3  # ... and they appeared within a few days of each other
SAME_SERIES_POST = 0.5  # one outlet, one headline, two pages: one story only this alike
MAX_DAYS_APART = 10  # a weekly newsletter retells the week's news
ROUNDUP_DAYS_APART = 21  # a weekly roundup's headline may tell news of two weeks before
ROUNDUP_MATCH = 0.6  # the share of the shorter headline's words the two share
ROUNDUP_NAMED_MATCH = 0.5  # ... or this share, when one of them is a name like o1 or o3-mini
_CODE_NAME = re.compile(r"(?=.*[a-z])(?=.*\d)[a-z0-9][\w.-]+")  # gpt-4, o3-mini, o1, 5g
# 1500, 1,500, 39655442.33, 94.9B, 2 million; not the 4 of GPT-4 or the 3 of "3D"
_FIGURE = re.compile(
    r"(?<![\w.-])(?P<n>\d[\d,]*(?:\.\d+)?)"
    r"(?:(?P<unit>bn|[kmbt])|\s+(?P<word>thousand|million|billion|trillion))?(?![\w-]|\.\d)",
    re.I,
)
_HEADLINE_CASE = re.compile(r"[A-Z]")  # "xAI Joins SpaceX" is a headline; "lawsuit says" is not
NUM_PERM = 64
LSH_THRESHOLD = 0.2
CHUNK = 256  # documents hashed at once: at most ~130 words each, so ~8 MB in flight


@dataclass(frozen=True)
class Merged:
    stories: tuple[Story, ...]
    notes: tuple[Note, ...]


class _Groups:
    """Union-find over item indexes, remembering why each pair was joined."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def merge(items: list[Item], by_names: bool = True) -> Merged:
    """The items as stories. `by_names=False` leaves out the rare-names rule (two
    headlines with the same rare names need be only a third as alike): the history
    turns it off, because a false match there drops a story from the issue instead of
    listing it as one more telling."""
    items = sorted(items, key=lambda i: i.id)
    scorer = Scorer(features(i.title, i.text) for i in items)
    pages = [canonical_url(i.url) if i.url else None for i in items]
    groups = _Groups(len(items))

    by_key: dict[str, int] = {}
    for i, item in enumerate(items):
        for key in _keys(item, pages[i]):
            if key not in by_key:
                by_key[key] = i
            elif key.startswith("url:") or not _a_series(items, by_key[key], i, scorer):
                groups.union(by_key[key], i)
    named = _named_pairs(scorer) if by_names else set()
    for i, j in sorted(named.union(_candidate_pairs(scorer))):
        if (
            groups.find(i) != groups.find(j)
            and _close_in_time(items[i], items[j])
            and scorer.similarity(i, j) >= _bar(items, scorer, i, j, (i, j) in named)
            and not _different_figures(items[i].title, items[j].title)
        ):
            groups.union(i, j)

    for i, j in _roundup_pairs(items, scorer):
        if groups.find(i) != groups.find(j):
            groups.union(i, j)

    members: dict[int, list[int]] = {}
    for i in range(len(items)):
        members.setdefault(groups.find(i), []).append(i)
    stories = []
    notes = []
    for indexes in members.values():
        group = [items[i] for i in indexes]
        lead, *others = sorted(indexes, key=lambda i: _lead_order(items[i]))
        matches = (
            Match(items[lead].id, "lead item", 1.0),
            *(
                _match(
                    items[lead],
                    items[i],
                    scorer.similarity(lead, i),
                    same_page=pages[i] is not None and pages[i] == pages[lead],
                    rare=scorer.shared_rare_words(lead, i),
                )
                for i in others
            ),
        )
        story = _story(group, matches)
        stories.append(story)
        if len(group) > 1:
            how = "; ".join(f"{m.item_id}: {m.reason}" for m in matches[1:])
            origins = ", ".join(sorted({item.origin for item in group}))
            notes.append(
                Note("merge", origins, f"{len(group)} items merged into {story.title!r} ({how})")
            )
    stories.sort(key=lambda s: s.id)
    return Merged(tuple(stories), tuple(sorted(notes, key=lambda n: n.message)))


def story_keys(story: Story) -> tuple[str, ...]:
    """What marks a story as already published: its items' pages and ids."""
    keys = {item.id for item in story.items}
    keys |= {canonical_url(item.url) for item in story.items if item.url}
    return tuple(sorted(keys))


def _keys(item: Item, page: str | None) -> list[str]:
    keys = []
    if page is not None:
        keys.append("url:" + page)
    title = " ".join(_words(item.title))
    if len(title.split()) >= 4:
        keys.append("title:" + title)
    return keys


def _a_series(items: list[Item], i: int, j: int, scorer: Scorer) -> bool:
    """Two pages of one outlet under one headline whose words differ are two posts of a
    series ("Head of Editorial, Google Cloud", "This week in AI"), not one story told twice."""
    return items[i].source == items[j].source and scorer.similarity(i, j) < SAME_SERIES_POST


def _named_pairs(scorer: Scorer) -> set[tuple[int, int]]:
    """Pairs whose headlines share two rare words: outlets retelling an event put its
    names in the headline ("FDI inflows contract…", "FDI inflows record 1st decline…")
    even when the rest of their words differ too much for MinHash to pair them.
    A rare word is in few items, so this stays linear in the number of items."""
    by_word: dict[int, list[int]] = {}
    for i, title in enumerate(scorer.titles):
        for word in scorer.rare_words.intersection(title):
            by_word.setdefault(word, []).append(i)
    shared: dict[tuple[int, int], int] = {}
    for holders in by_word.values():
        for pair in combinations(holders, 2):
            shared[pair] = shared.get(pair, 0) + 1
    return {pair for pair, n in shared.items() if n >= 2}


def _bar(items: list[Item], scorer: Scorer, i: int, j: int, named: bool) -> float:
    """How alike two items must be to be one story: less when their headlines carry
    the same rare words, one of them a name, and they appeared within a few days of
    each other. Rare words that name nothing ("regulated industries") are a topic
    two different deals can share."""
    if (
        named
        and _close_in_time(items[i], items[j], NAMES_DAYS_APART)
        and _words(items[i].title) != _words(items[j].title)  # the headline key decided those
        and not _headlines(items[i].title)  # a roundup joins one story only, by its own rule
        and not _headlines(items[j].title)
        and any(
            word in _names_in(items[i].title) and word in _names_in(items[j].title)
            for word in scorer.shared_rare_words(i, j)
        )
    ):
        return SAME_NAMES
    return SAME_STORY


@functools.lru_cache(maxsize=4096)
def _names_in(headline: str) -> frozenset[str]:
    """The content words a headline writes with a capital or a digit ("EDP", "Kalanick",
    "5G"), as content_words spells them (lower case)."""
    return frozenset(
        word.lower()
        for word in content_tokens(headline)
        if word[:1].isupper() or word[:1].isdigit()
    )


def _candidate_pairs(scorer: Scorer) -> list[tuple[int, int]]:
    """Pairs whose content words may overlap enough, proposed by MinHash LSH: documents
    whose signatures agree on every value of at least one band, the bands datasketch's
    MinHashLSH picks for this threshold. Bucketing all documents at once with numpy is
    what its insert and query do one document at a time, at a tenth of the cost."""
    usable = np.array([i for i, words in enumerate(scorer.words) if len(words) >= 3])
    if len(usable) < 2:
        return []
    signatures = _signatures([scorer.words[i] for i in usable], scorer.vocabulary)
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)  # for its banding only
    pairs: set[tuple[int, int]] = set()
    for start, end in lsh.hashranges:
        band = signatures[:, start:end]
        order = np.lexsort(band.T[::-1])  # stable: equal bands stay in index order
        ranked = band[order]
        same = np.all(ranked[1:] == ranked[:-1], axis=1).astype(np.int8)  # as the next row
        edges = np.flatnonzero(np.diff(np.concatenate(([0], same, [0]))))
        for first, last in edges.reshape(-1, 2).tolist():  # rows first..last share a bucket
            pairs.update(combinations(sorted(usable[order[first : last + 1]].tolist()), 2))
    return sorted(pairs)


def _signatures(documents: list[Words], vocabulary: tuple[str, ...]) -> npt.NDArray[np.uint32]:
    """Each document's MinHash, as datasketch computes it (scheme "affine32", crc32 of
    each word: deterministic across runs, unlike hash()), for all documents at once:
    each distinct word is hashed once, and numpy applies the permutations to a chunk
    of documents in one go rather than one `MinHash.update` per document."""
    a, b = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32").permutations
    word_hashes = _fmix32(np.array([zlib.crc32(w.encode()) for w in vocabulary], dtype=np.uint32))
    out = np.empty((len(documents), NUM_PERM), dtype=np.uint32)
    for start in range(0, len(documents), CHUNK):
        chunk = documents[start : start + CHUNK]
        hashed = a[:, np.newaxis] * word_hashes[np.concatenate(chunk)] + b[:, np.newaxis]
        offsets = np.cumsum([0] + [len(d) for d in chunk[:-1]])
        out[start : start + CHUNK] = np.minimum.reduceat(hashed, offsets, axis=1).T
    return out


def _fmix32(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3's finalizer, which datasketch applies to each word's hash first."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _roundup_pairs(items: list[Item], scorer: Scorer) -> Iterator[tuple[int, int]]:
    """A roundup ("Opus 4.6 Thinks Smarter, xAI Joins SpaceX, AI Outperforms Doctors")
    joins the story told by its first headline that another item tells: one whose
    words make up most of that item's headline (or the other way round), two words at
    least, where a name of letters and digits (GPT-4, o3-mini) says as much as two
    words. Half is enough when a shared word is such a code name ("OpenAI o1 Pro's High
    Price" retells "OpenAI o1 System Card"): few items share one. It joins one story
    only, and never another roundup, so one roundup never chains unrelated stories
    together."""
    headlines = {i: parts for i, item in enumerate(items) if (parts := _headlines(item.title))}
    if not headlines:
        return
    titles = [frozenset(words) for words in scorer.titles]  # numbered, like the headlines
    by_word: dict[int, list[int]] = {}
    for j, words in enumerate(titles):
        if j not in headlines:
            for word in words:
                by_word.setdefault(word, []).append(j)
    for i, parts in headlines.items():
        for part in parts:  # the first headline that another item retells decides
            lead = frozenset(map(scorer.number, content_words(part)))  # among i's own words
            if len(lead) < 2:
                continue
            best, closest = None, 0.0
            for j in sorted(
                {j for w in lead if len(by_word.get(w, ())) <= 50 for j in by_word.get(w, ())}
            ):
                common = [scorer.vocabulary[w] for w in lead & titles[j]]
                # a code name of three characters or more (gpt-4) counts twice; o1 does not
                names = sum(1 for w in common if len(w) > 2 and _CODE_NAME.fullmatch(w))
                shared = len(common) + names
                closeness = shared / min(len(lead), len(titles[j]))
                bar = (
                    ROUNDUP_NAMED_MATCH if any(map(_CODE_NAME.fullmatch, common)) else ROUNDUP_MATCH
                )
                if (
                    shared >= 2
                    and closeness >= bar
                    and closeness > closest
                    and _close_in_time(items[i], items[j], ROUNDUP_DAYS_APART)
                ):
                    best, closest = j, closeness
            if best is not None:
                yield i, best
                break


def _headlines(title: str) -> list[str]:
    """The headlines of a roundup's title, or none: comma-separated parts, three of them
    of three words or more, each with a capital letter as headlines have, and none
    going on a list ("Docs, Sheets, and Slides add …" and "X, Y, lawsuit says" are one
    headline each)."""
    parts = re.split(r",\s+", title.removeprefix("The Batch: "))
    if (
        sum(len(part.split()) >= 3 for part in parts) >= 3
        and all(_HEADLINE_CASE.search(part) for part in parts)
        and not any(re.match(r"(and|or)\s", part) for part in parts)
    ):
        return parts
    return []


def _figures(title: str) -> set[str]:
    """The numbers a headline states, written one way ("$1,500.00" and "1500" alike,
    "2 million" and "2m")."""
    found = set()
    for match in _FIGURE.finditer(title):
        number = match["n"].replace(",", "")
        number = number.split(".")[0] if number.endswith((".0", ".00")) else number
        unit = (match["unit"] or match["word"] or "").lower()
        found.add(number + {"bn": "b", "thousand": "k"}.get(unit, unit[:1]))
    return found


def _different_figures(a: str, b: str) -> bool:
    """Both headlines state figures and share none: "Insider sells 1500 shares" and
    "Insider sells 99342 shares" are two filings, however alike the words around them."""
    figures_a, figures_b = _figures(a), _figures(b)
    return bool(figures_a) and bool(figures_b) and not figures_a & figures_b


def _close_in_time(a: Item, b: Item, days: int = MAX_DAYS_APART) -> bool:
    if a.published is None or b.published is None:
        return True
    return abs((a.published - b.published).days) <= days


def _match(lead: Item, item: Item, score: float, same_page: bool, rare: tuple[str, ...]) -> Match:
    if same_page:
        return Match(item.id, "same page", score)
    if _words(item.title) == _words(lead.title):
        return Match(item.id, "same headline", score)
    if _headlines(item.title):  # never the lead when another item is not a roundup
        return Match(item.id, f"roundup with a headline that tells it ({score:.2f})", score)
    if score < SAME_STORY and len(rare) >= 2:
        words = ", ".join(rare)
        why = f"similar wording ({score:.2f}), the same rare words in both headlines ({words})"
        return Match(item.id, why, score)
    return Match(item.id, f"similar wording ({score:.2f})", score)


def _story(group: list[Item], matches: tuple[Match, ...]) -> Story:
    ordered = sorted(group, key=_lead_order)
    lead = ordered[0]
    url = lead.url or next((i.url for i in ordered if i.url), None)
    sources: list[SourceRef] = []
    seen = set()
    for item in ordered:
        if item.source is None:
            continue  # an unattributed file credits no one; its origin is in `items`
        ref = SourceRef(name=item.source, url=item.url, via=item.via)
        if (ref.name, ref.via) not in seen:
            seen.add((ref.name, ref.via))
            sources.append(ref)
    related = []
    seen_urls = {url}
    for item in ordered:
        for link in item.related:
            if link.url not in seen_urls:
                seen_urls.add(link.url)
                related.append(link)
    dates: list[dt.date] = sorted(i.published for i in group if i.published)
    return Story(
        id=hashlib.sha256("|".join(sorted(i.id for i in group)).encode()).hexdigest()[:12],
        title=lead.title,
        url=url,
        source=lead.source,
        published=lead.published or (dates[0] if dates else None),
        summary="",  # written by assemble, for the stories that make the issue
        items=tuple(ordered),
        sources=tuple(sources),
        kind="feature" if any(i.kind == "article" for i in group) else "brief",
        related=tuple(related),
        matches=matches,
    )


def _lead_order(item: Item) -> tuple[int, int, int, int, str]:
    """The item that speaks for a story: an article over a brief, the original over a
    newsletter's retelling or a roundup (whose headline tells other stories too), then
    the longest."""
    return (
        item.kind != "article",
        item.via is not None,
        bool(_headlines(item.title)),
        -_length(item),
        item.id,
    )


def _length(item: Item) -> int:
    return sum(len(block.text) for block in item.blocks)


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^\w]+", text.lower().replace("’", "")) if w]
