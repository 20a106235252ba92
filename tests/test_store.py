"""The state file: migrations apply once, failed changes leave nothing behind."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from digest.store import Database, SQLiteHistory

D1, D2, D3 = dt.date(2026, 11, 21), dt.date(2026, 11, 22), dt.date(2026, 11, 23)


def test_migrations_apply_once_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    steps = ["CREATE TABLE a (x INTEGER)", "ALTER TABLE a ADD COLUMN y TEXT"]
    db = Database(path)
    db.migrate("part", steps)
    db.migrate("part", steps)
    db.close()
    db = Database(path)
    db.migrate("part", steps)
    columns = [row[1] for row in db.db.execute("PRAGMA table_info(a)")]
    assert columns == ["x", "y"]


def test_a_state_file_from_a_newer_digest_is_refused(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite")
    db.migrate("part", ["CREATE TABLE a (x)", "CREATE TABLE b (x)"])
    with pytest.raises(RuntimeError, match="newer than this digest"):
        db.migrate("part", ["CREATE TABLE a (x)"])


def test_a_failed_change_is_rolled_back_whole(tmp_path: Path) -> None:
    history = SQLiteHistory(Database(tmp_path / "state.sqlite"))
    history.record_issue(D1, ["a", "b"])
    with pytest.raises(KeyboardInterrupt), history.database.transaction() as db:
        db.execute("DELETE FROM published")
        raise KeyboardInterrupt
    assert history.issue_keys(D1) == {"a", "b"}


def test_only_earlier_issues_count_as_already_published(tmp_path: Path) -> None:
    history = SQLiteHistory(Database(tmp_path / "state.sqlite"))
    history.record_issue(D2, ["a", "b"])
    assert history.published_before(["a", "c"], D3) == {"a": D2}
    assert history.published_before(["a"], D2) == {}
    assert history.published_before(["a"], D1) == {}
    history.record_issue(D2, ["c"])
    assert history.issue_keys(D2) == {"c"}


def test_a_published_storys_theme_is_kept_and_an_older_state_file_gains_the_column(
    tmp_path: Path,
) -> None:
    from digest.models import PublishedStory
    from digest.store import HISTORY_SCHEMA

    path = tmp_path / "state.sqlite"
    older = Database(path)
    older.migrate("history", HISTORY_SCHEMA[:2])  # as a digest before themes were kept
    older.db.execute(
        "INSERT INTO published_stories VALUES (?, 'old', 'A chip', 'chip', 'Lab')",
        (D1.isoformat(),),
    )
    older.close()
    history = SQLiteHistory(Database(path))
    new = PublishedStory(D2, "new", "A model", frozenset({"model"}), frozenset({"Lab"}), "ai")
    history.record_issue(D2, ["new"], [new])
    assert [(s.story_id, s.theme) for s in history.stories_before(D3, 14)] == [
        ("old", ""),
        ("new", "ai"),
    ]


def test_a_rebuild_sees_the_history_its_first_build_saw(tmp_path: Path) -> None:
    from digest.models import PublishedStory

    def story(story_id: str, day: dt.date) -> PublishedStory:
        return PublishedStory(day, story_id, story_id, frozenset(), frozenset({"Lab"}))

    history = SQLiteHistory(Database(tmp_path / "state.sqlite"))
    history.record_issue(D1, ["a"], [story("a", D1)])
    history.record_issue(D3, ["c"], [story("c", D3)])
    history.record_issue(D2, ["b"], [story("b", D2)])  # the day before, built afterwards
    assert [s.story_id for s in history.stories_before(D3, 14)] == ["a"]  # as at first
    assert [s.story_id for s in history.stories_before(D2, 14)] == ["a"]
    later = D3 + dt.timedelta(days=1)
    assert [s.story_id for s in history.stories_before(later, 14)] == ["a", "b", "c"]


def test_a_durable_change_is_synced_and_the_next_ones_are_not(tmp_path: Path) -> None:
    database = Database(tmp_path / "state.sqlite")
    synchronous = "PRAGMA synchronous"  # 1 NORMAL: at checkpoints; 2 FULL: at every commit
    with database.transaction(durable=True) as db:
        assert db.execute(synchronous).fetchone()[0] == 2
    with database.transaction() as db:
        assert db.execute(synchronous).fetchone()[0] == 1
    database.close()
