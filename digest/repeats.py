"""Across days: a story an earlier issue carried is not told again, unless it grew.

A story comes back in two ways: the same pages (caught by their keys), or new
tellings of the same news (caught by merge's own rules against the stories of
the last two weeks' issues: similar wording, the same headline, a weekly
roundup's headline). A returning story is left out, unless
it brings substantial new coverage (outlets the earlier issue did not have):
then it runs again, marked as an update that points to the earlier issue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from digest.merge import merge, story_keys
from digest.models import Block, Item, Note, PublishedStory, Story
from digest.similarity import content_words, features
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
            candidates.append(story)  # this issue carried it before: checked as then
            continue
        seen = history.published_before(keys, date)
        if seen:
            first = min(seen.values())
            dropped.append(
                Note("history", story.id, f"already in the {first} issue: {story.title!r}")
            )
        else:
            candidates.append(story)
    told = _told_before(candidates, earlier) if earlier else {}
    for story in candidates:
        if story.id not in told:
            kept.append(story)
            continue
        best, why = told[story.id]
        new_outlets = _outlets(story) - best.outlets
        if len(new_outlets) >= NEW_OUTLETS_FOR_UPDATE:
            kept.append(replace(story, update_of=best))
        else:
            dropped.append(
                Note(
                    "history",
                    story.id,
                    f"same story as {best.title!r} in the {best.issue_date} issue, with no "
                    f"substantial new coverage: {why}",
                )
            )
    return Kept(tuple(kept), tuple(dropped))


def _told_before(
    stories: list[Story], earlier: list[PublishedStory]
) -> dict[str, tuple[PublishedStory, str]]:
    """story id -> the earlier issue's story it retells, and why: the earlier stories
    join today's items as items of their own, and merge decides, so that a story is
    "the same" across days as it is within one day (a weekly roundup a few days after
    the launch it covers, the same headline, similar wording), but for the rare-names
    rule: a false match would drop a story, not add a telling to one."""
    old = {_key(r): r for r in earlier}
    today = {item.id: story.id for story in stories for item in story.items}
    items = [item for story in stories for item in story.items]
    told: dict[str, tuple[PublishedStory, str]] = {}
    for group in merge(items + [_as_item(r) for r in earlier], by_names=False).stories:
        records = sorted(
            (old[i.id] for i in group.items if i.id in old),
            key=lambda r: (r.issue_date, r.story_id),
        )
        if not records:
            continue
        why = {m.item_id: m.reason for m in group.matches}
        for item in group.items:
            if item.id in today and today[item.id] not in told:
                # the reason of whichever of the two is not the group's lead
                reason = why[item.id] if item.id != group.items[0].id else why[_key(records[0])]
                told[today[item.id]] = (records[0], reason)
    return told


def _key(record: PublishedStory) -> str:
    return f"history:{record.issue_date}:{record.story_id}"


def _as_item(record: PublishedStory) -> Item:
    """An earlier issue's story as merge sees an item: its headline, its content words
    (those of the headline aside, in a fixed order) and the issue's date. An article,
    so that a roundup of today never leads it and the reason given is the roundup's."""
    title_words = set(content_words(record.title))
    return Item(
        id=_key(record),
        origin="history",
        title=record.title,
        url=None,
        source=min(record.outlets, default=None),
        published=record.issue_date,
        blocks=(Block("paragraph", " ".join(sorted(record.words - title_words))),),
    )


def _outlets(story: Story) -> frozenset[str]:
    return frozenset(ref.name for ref in story.sources)
