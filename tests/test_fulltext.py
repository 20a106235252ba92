"""Full text: a feed that gives a headline alone gets each new entry's article from its page,
fetched from a real server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer, Reply, rss

from digest.clean import clean
from digest.collect import collect
from digest.config import Config, ConfigError, parse_config
from digest.itemstore import SQLiteItemStore
from digest.progress import describe
from digest.summarize import blurb

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
EVER = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
RECENT = "Sun, 22 Nov 2026 09:00:00 GMT"
ARTICLE = (
    "The lab said on Thursday that its new model writes and tests code for hours without help.",
    "Engineers at three companies tried it on real projects before the launch, the lab said.",
    "It costs the same as the model it replaces, and it is available to every paying customer "
    "from today, through the app and through the API.",
)


def page(title: str, paragraphs: tuple[str, ...]) -> bytes:
    """An article page as sites serve one: navigation, the article, related links, a footer."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title} | Lab</title></head>
<body><header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/careers">Careers</a>
<a href="/login">Log in</a></nav></header>
<main><article><h1>{title}</h1>{body}<p>Read <a href="/docs">the documentation</a>.</p></article>
<aside><h2>Related</h2><ul><li><a href="/n/1">Our earlier model</a></li>
<li><a href="/n/2">Safety at the lab</a></li></ul></aside></main>
<footer><p>© 2026 The Lab. All rights reserved.</p><a href="/privacy">Privacy</a>
<a href="/terms">Terms</a></footer></body></html>""".encode()


def make_config(tmp_path: Path, url: str, max_bytes: int = 1_000_000, **source: Any) -> Config:
    data = {
        "sources": [{"url": url, "name": "The Lab", **source}],
        "fetch": {"timeout": 5, "max_bytes": max_bytes},
        "build": {"window_days": 3},
    }
    return parse_config(data, tmp_path / "digest.toml")


def title_only(*links: str, pub: str = RECENT) -> bytes:
    """A lab blog's feed: each entry's description is its title again."""
    return rss("The Lab", [(f"g{n}", link, f"g{n} title") for n, link in enumerate(links)], pub)


def stored_text(store: SQLiteItemStore, url: str) -> dict[str, str]:
    return {i.raw.meta_value("url") or "": i.raw.text for i in store.items([url], *EVER)}


def test_a_title_only_entry_gets_the_article_of_its_page_and_a_blurb_from_it(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    server.serve("/news/model", Reply(200, page("Introducing our new model", ARTICLE), HTML))
    url = server.serve("/feed.xml", Reply(200, title_only("/news/model"), RSS))
    report = collect(make_config(tmp_path, url, full_text=True), store, NOW)

    assert [describe(o) for o in report.outcomes] == [f"The Lab <{url}>: 1 new of 1 entries"]
    (text,) = stored_text(store, url).values()
    assert ARTICLE[0] in text and ARTICLE[2] in text
    assert "Careers" not in text and "All rights reserved" not in text  # the page's chrome
    assert f'href="{server.url("/docs")}"' in text  # links resolved against the page

    (item,) = clean(next(iter(store.items([url], *EVER))).raw).items
    assert item.title == "g0 title"  # the feed's own headline still
    assert item.kind == "article"
    assert blurb(item).startswith(ARTICLE[0])
    (request,) = server.hits("/news/model")
    assert request["Accept"].startswith("text/html")


def test_without_full_text_no_page_is_asked_for(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    server.serve("/news/model", Reply(200, page("Introducing our new model", ARTICLE), HTML))
    url = server.serve("/feed.xml", Reply(200, title_only("/news/model"), RSS))
    collect(make_config(tmp_path, url), store, NOW)

    assert server.hits("/news/model") == []
    assert list(stored_text(store, url).values()) == ["g0 title"]


def test_a_page_that_fails_keeps_its_entry_as_the_feed_gave_it_and_is_named(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    server.serve("/news/model", Reply(200, page("Introducing our new model", ARTICLE), HTML))
    server.serve("/news/empty", Reply(200, b"<!DOCTYPE html><html><body></body></html>", HTML))
    url = server.serve(
        "/feed.xml", Reply(200, title_only("/news/model", "/news/gone", "/news/empty"), RSS)
    )
    report = collect(make_config(tmp_path, url, full_text=True), store, NOW)

    (outcome,) = report.outcomes
    assert outcome.status == "fetched" and outcome.new_items == 3  # nothing lost
    assert outcome.message == (
        "full text: 2 of 3 pages not read ("
        f"{server.url('/news/gone')}: HTTP 404 (not found); "
        f"{server.url('/news/empty')}: no article found in the page)"
    )
    (health,) = store.health()  # `digest sources` shows it as the feed's last problem
    assert health.last_error == outcome.message and health.error_streak == 0
    texts = stored_text(store, url)
    assert ARTICLE[0] in texts[server.url("/news/model")]
    assert texts[server.url("/news/gone")] == "g1 title"
    assert texts[server.url("/news/empty")] == "g2 title"


def test_each_page_is_asked_for_once_and_only_for_entries_recent_enough_for_an_issue(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path
) -> None:
    for name in ("one", "two", "old"):
        server.serve(f"/news/{name}", Reply(200, page(f"Story {name}", ARTICLE), HTML))
    old = title_only("/news/old", pub="Sun, 01 Nov 2026 09:00:00 GMT").replace(b"g0", b"g9")
    entries = [title_only("/news/one")]
    url = server.serve("/feed.xml", lambda _headers: Reply(200, entries[0], RSS))
    config = make_config(tmp_path, url, full_text=True)
    collect(config, store, NOW)
    entries[0] = title_only("/news/one", "/news/two")  # a second entry is published
    collect(config, store, NOW)
    entries[0] = old  # an entry three weeks old, older than the build window
    collect(config, store, NOW)

    assert len(server.hits("/news/one")) == 1
    assert len(server.hits("/news/two")) == 1
    assert server.hits("/news/old") == []
    assert len(stored_text(store, url)) == 3


def test_full_text_for_a_local_folder_is_a_config_error_naming_the_source(
    tmp_path: Path,
) -> None:
    data = {"sources": [{"path": "seeds", "full_text": True}]}
    with pytest.raises(ConfigError, match=r"sources\[0\]\.full_text: applies to a feed"):
        parse_config(data, tmp_path / "digest.toml")
    with pytest.raises(ConfigError, match=r"full_text: expected true or false"):
        parse_config(
            {"sources": [{"url": "https://x.example/f", "full_text": "yes"}]}, tmp_path / "d.toml"
        )


def test_every_real_article_page_in_the_corpus_gives_its_article_and_a_blurb(
    server: FeedServer, store: SQLiteItemStore, tmp_path: Path, shared_dir: Path
) -> None:
    """The saved pages of ../shared/corpus/articles (Ars Technica, BBC, The Verge, Wired, a
    Substack, a Chinese business site, …), each the page of one title-only entry."""
    pages = sorted((shared_dir / "corpus" / "articles").glob("*.html"))
    assert len(pages) >= 15
    for n, path in enumerate(pages):
        server.serve(f"/p/{n}", Reply(200, path.read_bytes(), {"Content-Type": "text/html"}))
    url = server.serve(
        "/feed.xml", Reply(200, title_only(*(f"/p/{n}" for n in range(len(pages)))), RSS)
    )
    config = make_config(tmp_path, url, max_bytes=5_000_000, full_text=True)  # Wired: 1.2 MB
    report = collect(config, store, NOW)

    assert report.outcomes[0].message is None  # every page read
    for stored_item in store.items([url], *EVER):
        (item,) = clean(stored_item.raw).items
        page = pages[int((stored_item.raw.meta_value("url") or "").rsplit("/", 1)[1])].name
        assert item.kind == "article", page
        assert len(blurb(item)) > 80, page  # two or three sentences, not the headline again
        assert not blurb(item).startswith(item.title), page
