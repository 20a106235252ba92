"""Collecting feeds from a real server on 127.0.0.1: what the user sees, what the store holds."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer, Reply, endless, gzipped, rss, slow

from digest.clean import clean
from digest.collect import CollectReport, collect
from digest.config import Config, parse_config
from digest.itemstore import SQLiteItemStore
from digest.progress import describe

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
EVER = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<rss version="2.0"><channel><title>Bomb</title>
<item><title>&d;</title><link>https://x.example/1</link></item></channel></rss>"""


def make_config(tmp_path: Path, *urls: str | dict[str, Any], **fetch: Any) -> Config:
    sources = [u if isinstance(u, dict) else {"url": u} for u in urls]
    data = {"sources": sources, "fetch": {"timeout": 2, "max_bytes": 1_000_000, **fetch}}
    return parse_config(data, tmp_path / "digest.toml")


def run(config: Config, store: SQLiteItemStore, now: dt.datetime = NOW) -> CollectReport:
    return collect(config, store, now)


def lines(report: CollectReport) -> str:
    return "\n".join(describe(o) for o in report.outcomes)


def stored(store: SQLiteItemStore, url: str) -> list[Any]:
    return store.items([url], *EVER)


def test_a_feed_entry_is_stored_as_a_sanitised_raw_item_the_cleaner_trusts(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    body = (
        '<p>Hello <a href="/about">about</a> <a href="javascript:alert(1)">click</a>'
        '<img src="pic.png" alt="a cat"><script>steal()</script></p>'
        "<p>The post A title appeared first on Example News.</p>"
    )
    feed = rss("Example News", [("g1", "/a/1", body)], pub="Sun, 22 Nov 2026 09:00:00 GMT")
    feed = feed.replace(b"<title>g1 title</title>", b"<title>Use &lt;script&gt; tags</title>")
    url = server.serve("/feed.xml", Reply(200, feed, RSS))
    report = run(make_config(tmp_path, url), store)

    assert lines(report) == f"{url}: 1 new of 1 entries"
    (item,) = stored(store, url)
    raw = item.raw
    assert raw.format == "html"
    assert raw.meta_value("title") == "Use <script> tags"
    assert raw.meta_value("url") == server.url("/a/1")
    assert raw.meta_value("source") == "Example News"
    assert raw.meta_value("date") == "2026-11-22T09:00:00+00:00"
    assert raw.meta_value("guid")
    assert f'href="{server.url("/about")}"' in raw.text
    assert "javascript" not in raw.text and "<script" not in raw.text
    assert f'src="{server.url("/pic.png")}"' in raw.text

    (cleaned,) = clean(raw).items
    assert cleaned.title == "Use <script> tags"
    assert cleaned.published == dt.date(2026, 11, 22)
    assert cleaned.source == "Example News"
    assert [b.text for b in cleaned.blocks] == ["Hello about click a cat"]
    assert [link.url for link in cleaned.blocks[0].links] == [
        "https://127.0.0.1:" + server.url("/about").rsplit(":", 1)[1]
    ]


def test_a_feeds_own_categories_reach_the_item_as_tags(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Orbit News</title><id>urn:orbit</id>
<updated>2026-11-22T09:00:00Z</updated>
<entry><title>Launch day</title><id>urn:orbit:1</id><link href="https://orbit.example/1"/>
<updated>2026-11-22T09:00:00Z</updated><summary>A rocket went up.</summary>
<category term="https://orbit.example/c/7" label="Space"/>
<category term="launch"/><category term="LAUNCH"/>
<category term="https://orbit.example/c/8"/></entry></feed>"""
    url = server.serve("/atom.xml", Reply(200, atom, {"Content-Type": "application/atom+xml"}))
    run(make_config(tmp_path, url), store)

    (stored_item,) = stored(store, url)
    assert stored_item.raw.meta_value("tags") == "Space\nlaunch"  # label first; each once
    (cleaned,) = clean(stored_item.raw).items
    assert cleaned.tags == ("Space", "launch")


def test_a_json_feeds_tags_reach_the_item(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "items": [
            {
                "id": "1",
                "url": "https://j.example/1",
                "title": "T",
                "content_text": "Text.",
                "tags": ["Space", 7, "AI"],
            }
        ],
    }
    body = json.dumps(feed).encode()
    url = server.serve("/feed.json", Reply(200, body, {"Content-Type": "application/feed+json"}))
    run(make_config(tmp_path, url), store)

    (stored_item,) = stored(store, url)
    assert clean(stored_item.raw).items[0].tags == ("Space", "AI")


def test_recollecting_never_duplicates_by_guid_url_or_content(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    items = [("g1", "https://n.example/1", "<p>one</p>"), ("g2", "https://n.example/2", "<p>2</p>")]
    url = server.serve("/f", Reply(200, rss("N", items), RSS))
    config = make_config(tmp_path, url)
    assert run(config, store).new_items == 2
    again = [
        ("g1", "https://n.example/1", "<p>one, edited</p>"),  # same guid
        ("g9", "https://www.n.example/2/?utm_source=rss", "<p>2 again</p>"),  # same page
        ("g8", "https://n.example/8", "<p>one</p>"),  # a new guid
        ("g3", "https://n.example/3", "<p>three</p>"),
    ]
    server.serve("/f", Reply(200, rss("N", again), RSS))
    report = run(config, store, NOW + dt.timedelta(hours=1))
    assert lines(report) == f"{url}: 2 new of 4 entries"
    texts = sorted(i.raw.text for i in stored(store, url))
    assert texts == ["<p>2</p>", "<p>one</p>", "<p>one</p>", "<p>three</p>"]
    [same_content] = [i for i in stored(store, url) if i.raw.meta_value("url").endswith("/8")]
    assert same_content.raw.meta_value("title") == "g8 title"  # another title: not a copy


def test_an_unchanged_feed_costs_a_304_with_its_etag_or_last_modified(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    feed = rss("V", [("g", "https://v.example/1", "<p>x</p>")])

    def by_etag(headers: Any) -> Reply:
        if headers.get("If-None-Match") == '"v1"':
            return Reply(304)
        return Reply(200, feed, {**RSS, "ETag": '"v1"'})

    def by_date(headers: Any) -> Reply:
        stamp = "Sat, 21 Nov 2026 10:00:00 GMT"
        if headers.get("If-Modified-Since") == stamp:
            return Reply(304)
        return Reply(200, feed, {**RSS, "Last-Modified": stamp})

    tagged = server.serve("/etag", by_etag)
    dated = server.serve("/dated", by_date)
    config = make_config(tmp_path, tagged, dated)
    run(config, store)
    report = run(config, store)
    assert lines(report) == f"{tagged}: not modified\n{dated}: not modified"
    assert report.summary().endswith("0 fetched, 2 not modified, 0 failed, 0 skipped; 0 new items.")
    assert [h.get("If-None-Match") for h in server.hits("/etag")] == [None, '"v1"']
    health = {h.url: h for h in store.health()}
    assert health[tagged].items_stored == 1 and health[tagged].error_streak == 0


def test_a_gzipped_feed_is_read_and_a_clear_user_agent_is_sent(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    feed = rss("Z", [("z", "https://z.example/1", "<p>zipped</p>")])
    url = server.serve("/z", Reply(200, gzipped(feed), {**RSS, "Content-Encoding": "gzip"}))
    report = run(make_config(tmp_path, url), store)
    assert report.new_items == 1
    (hit,) = server.hits("/z")
    assert "gzip" in hit["Accept-Encoding"]
    assert hit["User-Agent"].startswith("digest/")


FAULTS = {
    "timeout": (lambda s: s.serve("/slow", slow(3)), "timed out after 1 s"),
    "404": (lambda s: s.serve("/404", Reply(404, b"no")), "HTTP 404 (not found)"),
    "410": (lambda s: s.serve("/410", Reply(410, b"gone")), "HTTP 410 (gone for good)"),
    "redirect loop": (
        lambda s: (
            s.serve("/b", Reply(302, b"", {"Location": "/a"})),
            s.serve("/a", Reply(302, b"", {"Location": "/b"})),
        )[1],
        "redirect loop: ",
    ),
    "80 MB": (
        lambda s: s.serve("/huge", Reply(200, endless(80_000_000), RSS)),
        "larger than the 1 MB cap; stopped reading",
    ),
    "not XML": (
        lambda s: s.serve("/page", Reply(200, b"<html><body><p>Hi</p></body></html>")),
        "not a feed",
    ),
    "truncated": (
        lambda s: s.serve("/cut", Reply(200, rss("C", [("g", "https://c.e/1", "x")])[:60], RSS)),
        "truncated or malformed, no entry could be read",
    ),
    "entity bomb": (lambda s: s.serve("/bomb", Reply(200, BOMB, RSS)), "looks like an entity bomb"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_broken_feed_is_reported_counted_and_never_stops_the_others(
    fault: str, server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    serve, reason = FAULTS[fault]
    broken = serve(server)
    good = server.serve("/good", Reply(200, rss("G", [("g", "https://g.e/1", "<p>ok</p>")]), RSS))
    report = run(make_config(tmp_path, broken, good, timeout=1), store)

    shown = lines(report)
    assert f"failed: {broken}: {reason}" in shown
    assert f"{good}: 1 new of 1 entries" in shown
    health = {h.url: h for h in store.health()}
    assert reason in (health[broken].last_error or "")
    assert health[broken].error_streak == 1 and health[broken].items_stored == 0
    assert health[good].items_stored == 1


def test_a_feed_that_keeps_failing_backs_off_and_comes_back(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    url = server.serve("/flaky", Reply(500, b"oops"))
    config = make_config(tmp_path, url, backoff_minutes=30)
    run(config, store)
    run(config, store)  # second failure in a row: wait 30 minutes
    report = run(config, store, NOW + dt.timedelta(minutes=10))
    assert lines(report) == (
        f"skipped: {url}: failed 2 times in a row; next try after 2026-11-22 12:30 UTC"
    )
    assert len(server.hits("/flaky")) == 2
    server.serve("/flaky", Reply(200, rss("F", [("f", "https://f.e/1", "<p>back</p>")]), RSS))
    report = run(config, store, NOW + dt.timedelta(minutes=31))
    assert report.new_items == 1
    (health,) = store.health()
    assert health.error_streak == 0 and health.next_retry is None


def test_a_permanent_redirect_moves_the_stored_url_and_a_temporary_one_does_not(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    new = server.serve("/new", Reply(200, rss("M", [("m", "https://m.e/1", "<p>m</p>")]), RSS))
    moved = server.serve("/old", Reply(301, b"", {"Location": "/new"}))
    hop = server.serve("/hop", Reply(302, b"", {"Location": "/new"}))
    config = make_config(tmp_path, moved, hop)
    report = run(config, store)
    assert f"{moved}: 1 new of 1 entries (moved permanently to {new})" in lines(report)
    state = {h.url: h.fetch_url for h in store.health()}
    assert state == {moved: new, hop: hop}
    run(config, store)
    assert len(server.hits("/old")) == 1  # the second run went straight to /new


def test_no_more_than_per_host_requests_reach_one_server_at_once(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    import threading

    active = [0, 0]  # now, most
    lock = threading.Lock()

    def counted(_headers: Any) -> Reply:
        with lock:
            active[0] += 1
            active[1] = max(active)
        threading.Event().wait(0.1)
        with lock:
            active[0] -= 1
        return Reply(200, rss("P", []), RSS)

    urls = [server.serve(f"/p{i}", counted) for i in range(6)]
    report = run(make_config(tmp_path, *urls, per_host=2), store)
    assert report.count("fetched") == 6
    assert active[1] == 2


def test_a_crash_while_storing_keeps_the_feeds_already_stored_and_the_store_consistent(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = server.serve("/1", Reply(200, rss("1", [("a", "https://a.e/1", "<p>a</p>")]), RSS))
    second = server.serve("/2", Reply(200, rss("2", [("b", "https://b.e/1", "<p>b</p>")]), RSS))
    real = store.record_items
    calls: list[str] = []

    def crash_on_second(url: str, *args: Any, **kwargs: Any) -> int:
        calls.append(url)
        if len(calls) == 2:
            with store.database.transaction() as db:
                db.execute("INSERT INTO feed_sources (url, fetch_url) VALUES ('x', 'x')")
                raise KeyboardInterrupt
        return real(url, *args, **kwargs)

    monkeypatch.setattr(store, "record_items", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        run(make_config(tmp_path, first, second, concurrency=1), store)
    assert [len(stored(store, u)) for u in (first, second)] == [1, 0]
    assert {h.url for h in store.health()} == {first}
    check = sqlite3.connect(store.database.path).execute("PRAGMA integrity_check").fetchone()
    assert check == ("ok",)


# The real feeds in ../shared/corpus/feeds, served as a web server would serve them.

CORPUS_FAILS = {
    "feedrs_rss_2.0_invalid_1.xml": "truncated or malformed",
    "fp_bozo_invalid-bytes-with-bom.xml": "truncated or malformed",
}


def test_every_real_feed_in_the_corpus_is_collected_or_reported(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path, shared_dir: Path
) -> None:
    folder = shared_dir / "corpus" / "feeds"
    files = sorted(p for p in folder.iterdir() if p.suffix in {".xml", ".atom", ".rss", ".rdf"})
    files += sorted(folder.glob("*.json"))
    urls = {}
    for path in files:
        kind = "application/feed+json" if path.suffix == ".json" else "application/xml"
        urls[path.name] = server.serve(
            f"/{path.name}", Reply(200, path.read_bytes(), {"Content-Type": kind})
        )
    config = make_config(tmp_path, *urls.values(), per_host=8, max_bytes=10_000_000, timeout=20)
    report = run(config, store)

    failed = {o.url.rsplit("/", 1)[1]: o.message for o in report.outcomes if o.status == "failed"}
    assert set(failed) == set(CORPUS_FAILS)
    for name, reason in CORPUS_FAILS.items():
        assert reason in (failed[name] or "")
    assert report.new_items > 2000

    def titles(name: str) -> list[str]:
        return [i.raw.meta_value("title") or "" for i in stored(store, urls[name])]

    assert any("Бузулуке" in t for t in titles("nodefp_iconv.xml"))  # windows-1251
    assert any("建国35周年纪念" in t for t in titles("rsparser_kc0011.rss"))  # gb2312
    assert titles("fp_chardet_gb2312.xml") == ["不归移民漫画系列：专业工作"]  # undeclared
    assert any("Revolução" in t for t in titles("feedrs_rss_2.0_encoding_1.xml"))  # latin-1
    assert len(titles("nodefp_nshipster_gzipped.xml")) == 25  # gzip without the header
    relative = stored(store, urls["nodefp_rss-with-relative-urls.xml"])
    assert all(i.raw.meta_value("url").startswith(server.base) for i in relative)
    everything = [i for u in urls.values() for i in stored(store, u)]
    assert not any("<script" in i.raw.text or "javascript:" in i.raw.text for i in everything)

    by_feed: dict[str, list[Any]] = {}
    for item in everything:
        by_feed.setdefault(item.raw.meta_value("feed") or "", []).append(item)
    for name in ("swelbyboy_the-verge.xml", "feedjira_json_feed.json", "rsparser_bio.rdf"):
        cleaned = [c for i in by_feed[urls[name]] for c in clean(i.raw).items]
        assert len(cleaned) == len(by_feed[urls[name]]), name
        assert all(c.title and c.url and c.url.startswith("https://") for c in cleaned), name
    cnn = [c for i in by_feed[urls["exfp_rsn_cnn.xml"]] for c in clean(i.raw).items]
    assert not any("Â©" in c.text for c in cnn)
    (moron,) = [c for i in by_feed[urls["fp_demoronize-1.xml"]] for c in clean(i.raw).items]
    assert moron.text == "don’t"

    again = run(config, store, NOW + dt.timedelta(hours=1))
    assert again.new_items == 0
    assert again.count("not_modified") == len(urls) - len(CORPUS_FAILS)


def test_an_unforeseen_error_in_one_feed_fails_that_feed_only(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import digest.collect

    good = server.serve("/good", Reply(200, rss("G", [("g", "https://g.e/1", "<p>ok</p>")]), RSS))
    odd = server.serve("/odd", Reply(200, rss("O", [("o", "https://o.e/1", "<p>odd</p>")]), RSS))
    real = digest.collect.new_item

    def explode(source: Any, title: Any, entry: Any) -> Any:
        if source.url == odd:
            raise ValueError("nobody saw this coming")
        return real(source, title, entry)

    monkeypatch.setattr(digest.collect, "new_item", explode)
    report = run(make_config(tmp_path, good, odd), store)
    assert f"failed: {odd}: unexpected error: ValueError('nobody saw this coming')" in lines(report)
    assert len(stored(store, good)) == 1


def test_unchanged_feeds_are_marked_a_batch_at_a_time_and_none_is_missed(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import digest.collect

    monkeypatch.setattr(digest.collect, "UNCHANGED_BATCH", 2)
    feed = rss("U", [("u", "https://u.example/1", "<p>u</p>")])
    urls = [server.serve(f"/u{i}", Reply(200, feed, RSS)) for i in range(5)]  # no validators
    config = make_config(tmp_path, *urls)
    run(config, store)
    later = NOW + dt.timedelta(hours=1)
    report = run(config, store, later)
    assert report.count("not_modified") == 5  # same bytes again: not parsed, not stored again
    health = store.health()
    assert [h.last_success for h in health] == [later] * 5
    assert all(h.items_stored == 1 for h in health)


def test_a_corrupt_gzip_body_and_a_cut_connection_are_reported_in_words(
    store: SQLiteItemStore, tmp_path: Path
) -> None:
    import socket
    import threading

    feed = rss("C", [("c", "https://c.example/1", "<p>c</p>")])
    answers = {
        b"/gz": b"Content-Encoding: gzip\r\nContent-Length: 20\r\n\r\n" + b"\x1f\x8b" + b"x" * 18,
        b"/cut": b"Content-Length: 99999\r\n\r\n" + feed,
    }
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def answer() -> None:
        for _ in answers:
            conn, _address = listener.accept()
            with conn:
                path = conn.recv(65536).split(b" ")[1]
                conn.sendall(b"HTTP/1.1 200 OK\r\n" + answers[path])

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    report = run(make_config(tmp_path, f"{base}/gz", f"{base}/cut", concurrency=1), store)
    thread.join(timeout=10)
    listener.close()
    shown = lines(report)
    assert f"failed: {base}/gz: the compressed body is corrupt" in shown
    assert f"failed: {base}/cut: the server broke the connection" in shown


def test_collecting_loads_none_of_the_build_stages_or_the_scheduler(tmp_path: Path) -> None:
    """`digest collect` runs often: it pays for fetching, parsing and storing only."""
    (tmp_path / "digest.toml").write_text('[newsletter]\nsend_time = "07:30"\n')
    script = (
        "import sys\n"
        "from digest.cli import _load\n"
        "from digest import collect, itemstore, progress, store\n"
        "_load(None)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert "feedparser" in loaded and "aiohttp" in loaded
    heavy = {"apscheduler", "jinja2", "mjml", "trafilatura", "ftfy", "markdown_it", "datasketch"}
    assert not heavy & loaded
