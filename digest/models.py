"""The plain data that flows one way through the stages.

raw item -> item -> story -> section -> issue -> rendered issue, plus a build
report. Every type is a frozen dataclass so that a stage can't quietly change
what an earlier stage produced, and so that equal input gives equal output.
No library object (a feedparser dict, a parse tree) ever appears here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph", "list_item", "quote"]
ItemKind = Literal["article", "brief", "quote"]
StoryKind = Literal["feature", "brief"]


@dataclass(frozen=True)
class Link:
    """An outbound link as the reader sees it: its words, its target and whose page it is."""

    text: str
    url: str
    source: str | None = None


@dataclass(frozen=True)
class Block:
    """One block of cleaned body text: plain words, never markup."""

    kind: BlockKind
    text: str
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class RawItem:
    """What a reader hands to the cleaner: decoded text and what the source claims.

    `meta` holds the source's own claims (front matter, feed fields) as strings;
    the cleaner decides which of them to believe.
    """

    origin: str
    source_name: str
    text: str
    format: Literal["markdown", "html"]
    meta: tuple[tuple[str, str], ...] = ()
    weight: float = 1.0
    theme_hint: str | None = None

    def meta_value(self, key: str) -> str | None:
        for k, v in self.meta:
            if k == key:
                return v
        return None


@dataclass(frozen=True)
class Quote:
    """A quote of the day: the words, who said them and where it was reported."""

    text: str
    attribution: str
    source: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Item:
    """One cleaned piece of news, with metadata the cleaner has decided to trust.

    `via` names the newsletter an item was split out of, so a story can credit
    both the outlet and the edition that pointed to it.
    """

    id: str
    origin: str
    title: str
    url: str | None
    source: str | None
    published: dt.date | None
    blocks: tuple[Block, ...]
    kind: ItemKind = "article"
    author: str | None = None
    via: str | None = None
    related: tuple[Link, ...] = ()
    quote: Quote | None = None
    paywalled: bool = False
    weight: float = 1.0
    theme_hint: str | None = None
    tags: tuple[str, ...] = ()  # the sections and topics the source filed it under

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


@dataclass(frozen=True)
class SourceRef:
    """Where a story was told: the outlet's name and the link to its telling."""

    name: str
    url: str | None = None
    via: str | None = None


@dataclass(frozen=True)
class ThemeScore:
    """Why a story leans to a theme, by `method`: "key terms" (the term score and the
    terms found), "learned profile" (similarity to the profile the day's stories
    taught, and the words they share) or "source" (the share of the outlet's
    confidently placed stories, today's and those of the last 30 days' issues, under
    that theme, and the outlet)."""

    theme: str
    score: float
    terms: tuple[str, ...] = ()
    method: str = "key terms"


@dataclass(frozen=True)
class Match:
    """Why an item sits in its story: how it was matched to the story's lead item."""

    item_id: str
    reason: str
    similarity: float


@dataclass(frozen=True)
class PublishedStory:
    """A story as an earlier issue carried it: enough to recognise it when it comes back."""

    issue_date: dt.date
    story_id: str
    title: str
    words: frozenset[str]
    outlets: frozenset[str]
    theme: str = ""  # the theme its own terms firmly gave it, or "" (see themes.firm_theme)


@dataclass(frozen=True)
class Story:
    """Items that tell the same news, merged; the lead item speaks for the story."""

    id: str
    title: str
    url: str | None
    source: str | None
    published: dt.date | None
    summary: str
    items: tuple[Item, ...]
    sources: tuple[SourceRef, ...]
    kind: StoryKind
    theme: str = ""
    theme_scores: tuple[ThemeScore, ...] = ()
    related: tuple[Link, ...] = ()
    rank: float = 0.0
    matches: tuple[Match, ...] = ()
    update_of: PublishedStory | None = None


@dataclass(frozen=True)
class Theme:
    key: str
    name: str
    description: str = ""
    terms: tuple[str, ...] = ()
    within: str | None = None  # the broader theme this one narrows (deepfakes within AI)


@dataclass(frozen=True)
class Section:
    theme: Theme
    stories: tuple[Story, ...]


@dataclass(frozen=True)
class Note:
    """One line of the build report: which stage did what to which input, and why."""

    stage: str
    origin: str
    message: str


@dataclass(frozen=True)
class BuildReport:
    corrections: tuple[Note, ...] = ()
    dropped: tuple[Note, ...] = ()
    merged: tuple[Note, ...] = ()
    warnings: tuple[Note, ...] = ()
    suggestions: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Issue:
    """One dated edition of the newsletter, ready for the templates.

    `lead` and `must_reads` point into `sections`: every story sits in exactly
    one section, the lead and the briefs are only ways of showing some of them.
    """

    date: dt.date
    newsletter: str
    title: str
    subject: str
    preheader: str
    lead: Story | None
    sections: tuple[Section, ...]
    must_reads: tuple[Story, ...]
    quote: Quote | None
    report: BuildReport = field(default_factory=BuildReport)

    @property
    def stories(self) -> tuple[Story, ...]:
        return tuple(s for section in self.sections for s in section.stories)


@dataclass(frozen=True)
class RenderedIssue:
    """The issue as the files a reader gets: HTML, its text twin, the data and the message."""

    html: str
    text: str
    json: str
    eml: bytes
