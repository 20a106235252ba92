"""Across days: published stories stay out of later issues unless they grew."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from digest.merge import merge
from digest.models import Block, Item, Story
from digest.repeats import drop_repeats, published_record
from digest.store import Database, SQLiteHistory

MONDAY, TUESDAY = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
EVENT = (
    "SAIC and Qingtao Energy will start mass production of an all-solid-state battery "
    "with 400Wh/kg energy density by December, the carmaker said at its SAIC Night event "
    "in Shanghai, promising 1500 km range for the MG4 successor."
)


def item(item_id: str, source: str, title: str, text: str = EVENT) -> Item:
    return Item(
        id=item_id,
        origin="test",
        title=title,
        url=f"https://{source.lower().replace(' ', '')}.example/{item_id}",
        source=source,
        published=MONDAY,
        blocks=(Block("paragraph", text),),
    )


def stories(*items: Item) -> tuple[Story, ...]:
    return merge(list(items)).stories


def history_with_monday(tmp_path: Path, published: tuple[Story, ...]) -> SQLiteHistory:
    history = SQLiteHistory(Database(tmp_path / "state.sqlite"))
    keys = [key for s in published for item in s.items for key in (item.id,)]
    history.record_issue(MONDAY, keys, [published_record(s, MONDAY) for s in published])
    return history


def test_a_retelling_by_one_more_outlet_is_not_repeated(tmp_path: Path) -> None:
    monday = stories(item("a", "Electrek", "SAIC to mass-produce solid-state batteries"))
    history = history_with_monday(tmp_path, monday)
    tuesday = stories(item("b", "CnEVPost", "SAIC's solid-state battery enters mass production"))
    kept = drop_repeats(tuesday, history, TUESDAY)
    assert kept.stories == ()
    assert "2026-11-23 issue" in kept.dropped[0].message


def test_a_story_with_substantial_new_coverage_runs_again_as_an_update(tmp_path: Path) -> None:
    monday = stories(item("a", "Electrek", "SAIC to mass-produce solid-state batteries"))
    history = history_with_monday(tmp_path, monday)
    tuesday = stories(
        item("b", "CnEVPost", "SAIC's solid-state battery enters mass production"),
        item("c", "Reuters", "SAIC solid-state battery mass production set for December"),
    )
    kept = drop_repeats(tuesday, history, TUESDAY)
    (story,) = kept.stories
    assert story.update_of is not None
    assert story.update_of.issue_date == MONDAY


def test_a_different_story_on_the_same_topic_is_new(tmp_path: Path) -> None:
    monday = stories(item("a", "Electrek", "SAIC to mass-produce solid-state batteries"))
    history = history_with_monday(tmp_path, monday)
    other = item(
        "d",
        "Wired",
        "Why sodium-ion cells may beat lithium on price",
        "CATL's sodium-ion cells cost about $59 per kilowatt-hour, and HiNa Battery ships "
        "packs for scooters; lithium prices have climbed since January.",
    )
    kept = drop_repeats(stories(other), history, TUESDAY)
    assert len(kept.stories) == 1
    assert kept.stories[0].update_of is None


def test_a_weekly_roundup_retelling_a_published_launch_is_not_repeated(tmp_path: Path) -> None:
    launch = item("a", "Anthropic", "Introducing Claude Opus 4.6", "A new model, today.")
    history = history_with_monday(tmp_path, stories(launch))
    roundup = item(
        "b",
        "The Batch",
        "Claude Opus 4.6 Thinks Smarter, xAI Joins SpaceX, AI Outperforms Doctors",
        "This week's letter is about something else entirely.",
    )
    kept = drop_repeats(stories(roundup), history, MONDAY + dt.timedelta(days=4))
    assert kept.stories == ()
    (note,) = kept.dropped
    assert "'Introducing Claude Opus 4.6' in the 2026-11-23 issue" in note.message
    assert "roundup with a headline that tells it" in note.message


def test_the_same_rare_names_a_day_later_are_not_enough_to_drop_a_story(tmp_path: Path) -> None:
    out = item("a", "Daring Fireball", "Chris Lattner Out at Tesla", "He left after six months.")
    history = history_with_monday(tmp_path, stories(out))
    interview = item(
        "b",
        "Daring Fireball",
        "Chris Lattner on His Stint at Tesla",
        "In an interview he talks about what he learned about autopilot software teams.",
    )
    kept = drop_repeats(stories(interview), history, TUESDAY)
    assert [s.title for s in kept.stories] == ["Chris Lattner on His Stint at Tesla"]
