"""Across days: a story an earlier issue carried is not told again, unless it grew.

A story comes back in two ways: the same pages (caught by their keys), or new
tellings of the same news by other outlets (caught by similarity to the
stories of the last two weeks' issues). A returning story is left out, unless
it brings substantial new coverage (outlets the earlier issue did not have):
then it runs again, marked as an update that points to the earlier issue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from digest.merge import SAME_STORY, story_keys
from digest.models import Note, PublishedStory, Story
from digest.similarity import Features, Scorer, content_words, features
from digest.store import History
from digest.themes import firm_theme

LOOKBACK_DAYS = 14
NEW_OUTLETS_FOR_UPDATE = 2


@dataclass(frozen=True)
class Kept:
    stories: tuple[Story, ...]
    dropped: tuple[Note, ...]


def published_record(story: Story, date: dt.date) -> PublishedStory:
    """What the history keeps of a story, to recognise it on a later day."""
    lead = story.items[0]
    return PublishedStory(
        issue_date=date,
        story_id=story.id,
        title=story.title,
        words=features(lead.title, lead.text).words,
        outlets=_outlets(story),
        theme=firm_theme(story),
    )


def drop_repeats(stories: tuple[Story, ...], history: History, date: dt.date) -> Kept:
    rebuilt = history.issue_keys(date)
    earlier = history.stories_before(date, LOOKBACK_DAYS)
    kept: list[Story] = []
    dropped: list[Note] = []
    candidates: list[Story] = []
    for story in stories:
        keys = story_keys(story)
        if rebuilt.intersection(keys):
            candidates.append(story)  # this issue carried it before: keep it, stable
            continue
        seen = history.published_before(keys, date)
        if seen:
            first = min(seen.values())
            dropped.append(
                Note("history", story.id, f"already in the {first} issue: {story.title!r}")
            )
        else:
            candidates.append(story)
    if not earlier:
        return Kept(tuple(candidates), tuple(dropped))

    docs = [published_record(s, date) for s in candidates]
    scorer = Scorer([_features(d) for d in docs] + [_features(e) for e in earlier])
    for i, story in enumerate(candidates):
        best, score = None, 0.0
        for j, old in enumerate(earlier, start=len(docs)):
            sim = scorer.similarity(i, j)
            if sim > score:
                best, score = old, sim
        if best is None or score < SAME_STORY:
            kept.append(story)
            continue
        new_outlets = _outlets(story) - best.outlets
        if len(new_outlets) >= NEW_OUTLETS_FOR_UPDATE:
            kept.append(replace(story, update_of=best))
        else:
            dropped.append(
                Note(
                    "history",
                    story.id,
                    f"same story as {best.title!r} in the {best.issue_date} issue "
                    f"(similarity {score:.2f}) with no substantial new coverage",
                )
            )
    return Kept(tuple(kept), tuple(dropped))


def _features(record: PublishedStory) -> Features:
    return Features(title=frozenset(content_words(record.title)), words=record.words)


def _outlets(story: Story) -> frozenset[str]:
    return frozenset(ref.name for ref in story.sources)
