"""Feeds as a user meets them: the commands, OPML, and issues built from collected items."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, run_digest
from feedserver import FeedServer, Reply, rss

from digest.collect import new_item
from digest.config import Source, load_config
from digest.feeds import Entry
from digest.itemstore import SQLiteItemStore
from digest.models import RawItem
from digest.pipeline import build
from digest.store import Database, SQLiteHistory

RSS = {"Content-Type": "application/rss+xml"}
WORDS = (
    "sodium lithium solar rocket orbit chip router vaccine court robot moon grid cathode "
    "satellite broadband drone ocean wind tariff camera"
).split()


def story(n: int) -> str:
    """A few sentences no other story shares, so that stories never merge by wording."""
    words = [f"{word}{n}" for word in WORDS]
    return "".join(f"<p>Report {n} on {' and '.join(words[i : i + 3])}.</p>" for i in range(6))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(REPO / "digest.toml", tmp_path / "digest.toml")
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    return tmp_path


def add_feed(project: Path, name: str, url: str) -> None:
    with (project / "digest.toml").open("a") as f:
        f.write(f'\n[[sources]]\nname = "{name}"\nurl = "{url}"\n')


def entries(*numbers: int, pub: str = "") -> bytes:
    items = [(f"g{n}", f"https://cells.example/story-{n}", story(n)) for n in numbers]
    return rss("Cells Weekly", items, pub=pub)


def today_http() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


def test_collect_prints_a_line_per_feed_and_a_summary_and_sources_shows_health(
    server: FeedServer, project: Path
) -> None:
    good = server.serve("/good.xml", Reply(200, entries(1, 2), RSS))
    gone = server.serve("/gone.xml", Reply(410, b"gone"))
    add_feed(project, "Cells", good)
    add_feed(project, "Gone", gone)

    result = run_digest("collect", cwd=project)
    assert result.returncode == 0, result.stderr
    assert f"Cells <{good}>: 2 new of 2 entries" in result.stderr
    assert f"failed: Gone <{gone}>: HTTP 410 (gone for good)" in result.stderr
    assert "2 feeds" in result.stderr and "1 fetched" in result.stderr
    assert "1 failed" in result.stderr and "2 new items." in result.stderr

    listing = run_digest("sources", cwd=project).stdout
    assert "Seed corpus\t" in listing and "local files, enabled" in listing
    assert "feed, enabled, 2 items stored, last success 20" in listing
    assert "error streak 1" in listing
    assert "last error" in listing and "HTTP 410 (gone for good)" in listing


def test_build_collects_first_and_the_issue_holds_feed_stories_stably(
    server: FeedServer, project: Path
) -> None:
    server.serve("/cells.xml", Reply(200, entries(1, 2, pub=today_http()), RSS))
    add_feed(project, "Cells Weekly", server.url("/cells.xml"))
    today = dt.datetime.now(dt.UTC).astimezone(_tz(project)).date().isoformat()

    first = run_digest("build", "--date", today, cwd=project)
    assert first.returncode == 0, first.stderr
    assert "1 fetched" in first.stderr
    folder = project / "out" / today
    data = json.loads((folder / "digest.json").read_text("utf-8"))
    titles = {s["title"] for sec in data["sections"] for s in sec["stories"]}
    assert {"g1 title", "g2 title"} <= titles
    files = {p.name: p.read_bytes() for p in folder.iterdir()}

    # the feed moves on; a rebuild of the same date still gives the same files
    server.serve("/cells.xml", Reply(200, entries(1, 2, 3, pub=today_http()), RSS))
    again = run_digest("build", "--date", today, cwd=project)
    assert again.returncode == 0, again.stderr
    assert "1 new items." in again.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files

    hits = len(server.hits("/cells.xml"))
    offline = run_digest("build", "--date", today, "--no-collect", cwd=project)
    assert offline.returncode == 0, offline.stderr
    assert len(server.hits("/cells.xml")) == hits


def _tz(project: Path) -> dt.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo(load_config(project / "digest.toml").newsletter.timezone)


def stored(store: SQLiteItemStore, source: Source, when: dt.datetime, *entries: Entry) -> None:
    """The feed's entries as `digest collect` would have stored them at `when`."""
    store.record_items(
        source.location,
        [new_item(source, source.name, entry) for entry in entries],
        when,
        fetch_url="x",
        etag=None,
        last_modified=None,
        body_hash=repr(entries),
        title=source.name,
    )


def test_feed_items_are_windowed_by_first_seen_and_never_repeat_the_next_day(
    tmp_path: Path,
) -> None:
    (tmp_path / "digest.toml").write_text(
        '[newsletter]\ntimezone = "UTC"\n[build]\nwindow_days = 2\n'
        '[[sources]]\nname = "Cells"\nurl = "https://cells.example/feed.xml"\n'
    )
    config = load_config(tmp_path / "digest.toml")
    database = Database(tmp_path / "state.sqlite")
    store, history = SQLiteItemStore(database), SQLiteHistory(database)

    def collect_at(when: dt.datetime, *numbers: int, published: str | None = None) -> None:
        entries = [
            Entry(
                f"g{n}",
                f"https://cells.example/s{n}",
                f"Story {n} about cells",
                story(n),
                published,
            )
            for n in numbers
        ]
        stored(store, config.sources[0], when, *entries)

    def titles(date: dt.date, now: dt.datetime) -> set[str]:
        result = build(config, date, tmp_path / "out", history, store, now)
        return {s.title for s in result.issue.stories}

    d1 = dt.date(2026, 11, 20)
    collect_at(dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC), 1, 2)
    collect_at(
        dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC), 3, published="2026-10-01T00:00:00+00:00"
    )
    assert titles(d1, dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)) == {
        "Story 1 about cells",
        "Story 2 about cells",
    }  # story 3 is dated weeks before the window
    collect_at(dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC), 4)  # after the D1 issue was built
    collect_at(dt.datetime(2026, 11, 21, 7, tzinfo=dt.UTC), 5)
    # rebuilding D1 keeps its cutoff: the same stories
    assert titles(d1, dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC)) == {
        "Story 1 about cells",
        "Story 2 about cells",
    }
    # D2 has what came since, never stories 1 and 2 again
    assert titles(dt.date(2026, 11, 21), dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC)) == {
        "Story 4 about cells",
        "Story 5 about cells",
    }
    # an earlier date has no feed items collected by then
    assert titles(dt.date(2026, 11, 10), dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC)) == set()
    database.close()


def test_a_lab_posting_once_a_day_leans_by_its_earlier_issues(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text(
        '[newsletter]\ntimezone = "UTC"\n'
        '[[sources]]\nname = "Lab"\nurl = "https://lab.example/feed.xml"\n'
        '[[themes]]\nkey = "ai"\nname = "AI"\nterms = ["AI", "model"]\n'
    )
    config = load_config(tmp_path / "digest.toml")
    database = Database(tmp_path / "state.sqlite")
    store, history = SQLiteItemStore(database), SQLiteHistory(database)
    posts = [  # three firmly AI, and so unlike each other that none retells another
        ("Compilers that write themselves", "<p>The AI model writes the patches. AI tests.</p>"),
        ("Chemistry papers, read for you", "<p>An AI model reads reactions. AI yields.</p>"),
        ("Breaking our own safeguards", "<p>Jailbreaks of the AI model. AI refusals.</p>"),
        ("Inviting hard questions", "<p>We answer what readers ask us.</p>"),
    ]
    for n, (title, html) in enumerate(posts):
        day = dt.date(2026, 11, 20 + n)
        when = dt.datetime.combine(day, dt.time(8), dt.UTC)
        stored(
            store, config.sources[0], when, Entry(f"g{n}", f"https://lab.example/{n}", title, html)
        )
        result = build(config, day, tmp_path / "out", history, store, when + dt.timedelta(hours=1))
        assert len(result.issue.stories) == 1, (n, result.issue.report)
        (story,) = result.issue.stories
    assert story.title == "Inviting hard questions"
    assert story.theme == "ai"  # one post a day: only the earlier issues show the leaning
    why = story.theme_scores[0]
    assert (why.method, why.terms) == ("source", ("Lab",))
    database.close()


OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>My feeds</title></head><body>
  <outline text="Tech">
    <outline type="rss" text="Ars Technica" xmlUrl="https://feeds.arstechnica.com/arstechnica/index"/>
    <outline type="rss" text="Seed corpus" xmlUrl="https://seed.example/feed"/>
  </outline>
  <outline type="rss" title="The Verge" xmlUrl="https://www.theverge.com/rss/index.xml"/>
  <outline type="rss" text="Not a feed" xmlUrl="javascript:alert(1)"/>
</body></opml>
"""


def test_opml_import_adds_sources_keeping_comments_and_export_round_trips(
    project: Path,
) -> None:
    config = project / "digest.toml"
    before = config.read_text("utf-8")
    (project / "feeds.opml").write_text(OPML)

    result = run_digest("sources", "import", "feeds.opml", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Imported 3 of 3 feeds" in result.stderr
    after = config.read_text("utf-8")
    assert after.startswith(before.split("[[sources]]")[0])  # comments and layout kept
    assert "# Themes, most specific first" in after
    assert after.index("The Verge") < after.index("# Themes, most specific first")
    assert 'name = "Seed corpus (2)"' in after  # names stay unique
    assert len(load_config(config).sources) == 4

    again = run_digest("sources", "import", "feeds.opml", cwd=project)
    assert "Imported 0 of 3 feeds" in again.stderr
    assert config.read_text("utf-8") == after

    exported = run_digest("sources", "export", cwd=project)
    assert exported.returncode == 0
    (project / "out.opml").write_text(exported.stdout)
    from digest.opml import read_opml

    assert [f.url for f in read_opml(project / "out.opml")] == [
        "https://feeds.arstechnica.com/arstechnica/index",
        "https://seed.example/feed",
        "https://www.theverge.com/rss/index.xml",
    ]


def test_a_file_that_is_not_opml_is_one_clear_line(project: Path) -> None:
    (project / "feeds.opml").write_text("<html>nope")
    result = run_digest("sources", "import", "feeds.opml", cwd=project)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "feeds.opml: not valid OPML" in line


def test_ctrl_c_stops_collect_cleanly_and_keeps_what_was_stored(
    server: FeedServer, project: Path
) -> None:
    add_feed(project, "Quick", server.serve("/quick.xml", Reply(200, entries(1), RSS)))
    add_feed(project, "Stuck", server.serve("/stuck.xml", Reply(200, b"<rss/>", RSS, delay=30)))
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "collect"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even when the tests run as a background job (a shell
        # starts those with SIGINT ignored, and a child that inherits that never stops)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 20
    while not server.hits("/stuck.xml") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "Interrupted after 1 feeds; the 1 new items they gave are stored." in stderr
    assert "Traceback" not in stderr
    database = Database(project / ".digest" / "state.sqlite")
    health = {h.url: h.items_stored for h in SQLiteItemStore(database).health()}
    database.close()
    assert health == {server.url("/quick.xml"): 1}


def test_the_cleaner_trusts_feed_metadata_and_keeps_html_that_looks_like_scaffolding() -> None:
    from digest.clean import clean

    raw = RawItem(
        origin="https://n.example/a",
        source_name="News",
        text=(
            "<h1>A different heading</h1>\n<p>Title: how to name things</p>\n"
            "By: the numbers, prices rose.\n<p>---</p>\n<p>The story itself.</p>\n"
            "<p>The post Feed title appeared first on News.</p>"
        ),
        format="html",
        meta=(
            ("date", "2026-11-21T23:30:00+00:00"),
            ("feed", "https://n.example/feed"),
            ("guid", "a"),
            ("source", "News"),
            ("title", "Feed title"),
            ("url", "https://n.example/a"),
        ),
    )
    (item,) = clean(raw).items
    assert item.title == "Feed title"
    assert item.published == dt.date(2026, 11, 21)
    assert item.source == "News"
    assert [b.text for b in item.blocks] == [
        "A different heading",
        "Title: how to name things",
        "By: the numbers, prices rose.",
        "---",
        "The story itself.",
    ]


def test_a_feed_entry_with_only_a_headline_and_a_link_is_kept_as_a_brief() -> None:
    from digest.clean import clean

    def entry(title: str | None) -> RawItem:
        meta = [("feed", "https://hn.example/rss"), ("url", "https://n.example/b")]
        return RawItem(
            origin="https://n.example/b",
            source_name="HN",
            text="",
            format="html",
            meta=tuple(sorted([*meta, *([("title", title)] if title else [])])),
        )

    (item,) = clean(entry("Show HN: a tiny database")).items
    assert (item.title, item.url, item.kind, item.blocks) == (
        "Show HN: a tiny database",
        "https://n.example/b",
        "brief",
        (),
    )
    cleaned = clean(entry(None))
    assert cleaned.items == ()
    assert "no article text" in cleaned.dropped[0].message
