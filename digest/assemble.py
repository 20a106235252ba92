"""Arrange themed stories into an issue that reads like The Download.

A lead story, the theme sections, the numbered must-reads and a quote of the
day. Ranking uses what a reader expects to matter (how many outlets told the
story, how recent it is, how much the editor trusts the source) and always
breaks ties the same way, so the same input gives the same issue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from digest.config import Config
from digest.models import BuildReport, Issue, Item, Note, Section, Story, Theme
from digest.quotes import quote_of_the_day
from digest.summarize import blurb
from digest.text import truncate_words
from digest.themes import suggest_themes

SUBJECT_WORDS = 14


def rank(story: Story, today: dt.date) -> float:
    tellings = len(story.sources)
    weight = max(item.weight for item in story.items)
    recency = 0.0
    if story.published is not None:
        age = (today - story.published).days
        recency = 1.0 if 0 <= age <= 3 else 0.5 if 0 <= age <= 14 else 0.0
    feature = 1.0 if story.kind == "feature" else 0.0
    return round(2.0 * tellings + weight + recency + feature, 3)


def _order(story: Story) -> tuple[float, int, str, str]:
    """Best first: by rank, then the newer story, then by headline and id, so that equal
    stories always come in the same order."""
    newer = -story.published.toordinal() if story.published else 0
    return (-story.rank, newer, story.title, story.id)


def assemble(
    config: Config,
    date: dt.date,
    stories: list[Story],
    quotes: list[Item],
    report: BuildReport,
) -> Issue:
    ranked = sorted((replace(s, rank=rank(s, date)) for s in stories), key=_order)
    dropped = list(report.dropped)
    briefs = [s for s in ranked if s.kind == "brief"]
    for story in briefs[config.build.must_reads :]:
        dropped.append(Note("assemble", story.id, f"beyond the must-reads limit: {story.title!r}"))
    over = {s.id for s in briefs[config.build.must_reads :]}
    ranked = [s for s in ranked if s.id not in over]
    for story in ranked[config.build.max_stories :]:
        dropped.append(Note("assemble", story.id, f"over the issue's size budget: {story.title!r}"))
    ranked = [replace(s, summary=blurb(s.items[0])) for s in ranked[: config.build.max_stories]]

    themes: list[Theme] = [*config.themes, config.catch_all]
    sections = []
    for theme in themes:
        in_theme = tuple(s for s in ranked if s.theme == theme.key)
        if in_theme:
            sections.append(Section(theme=theme, stories=in_theme))
    order = [s for section in sections for s in section.stories]

    features = [s for s in ranked if s.kind == "feature"]
    # a headline with no text of its own (a brief) leads only when nothing else can
    lead = features[0] if features else next((s for s in ranked if s.kind != "brief"), None)
    lead = lead or (ranked[0] if ranked else None)
    must_reads = tuple(s for s in order if s.kind == "brief" and s is not lead)
    quote = quote_of_the_day(quotes, ([lead] if lead else []) + ranked)

    name = config.newsletter.name
    if lead is None:
        title = f"{name}: nothing new today"
        preheader = "No new stories since the last issue."
    else:
        title = f"{name}: {truncate_words(lead.title, SUBJECT_WORDS)}"
        others = [s.title for s in ranked if s is not lead][:3]
        preheader = truncate_words(("Plus: " + "; ".join(others)) if others else lead.summary, 30)
    return Issue(
        date=date,
        newsletter=name,
        title=title,
        subject=title,
        preheader=preheader,
        lead=lead,
        sections=tuple(sections),
        must_reads=must_reads,
        quote=quote,
        report=replace(
            report,
            dropped=tuple(dropped),
            suggestions=suggest_themes(
                [s for s in ranked if s.theme == config.catch_all.key], config.themes
            ),
        ),
    )
