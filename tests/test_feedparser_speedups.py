"""The feedparser shortcuts give exactly what feedparser as shipped gives."""

from __future__ import annotations

import io
import random
import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.mixin
import pytest
from feedparser.util import FeedParserDict

from digest import feedparser_speedups
from digest.feeds import parse_feed

BASES = ("https://example.com/feed.xml", "http://example.com/a/b/", "", "ftp://x.example/")


def corpus_feeds(shared_dir: Path) -> list[Path]:
    folder = shared_dir / "corpus" / "feeds"
    return sorted(p for p in folder.iterdir() if p.suffix in {".xml", ".atom", ".rss", ".rdf"})


def raw_parse(body: bytes) -> Any:
    headers = {"content-location": "https://example.com/feed.xml"}
    return feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


def test_the_shortcuts_are_installed_and_can_be_switched_off() -> None:
    assert FeedParserDict.get is not dict.get
    shortcut = FeedParserDict.get
    with feedparser_speedups.original():
        assert FeedParserDict.get is not shortcut
        assert feedparser.mixin.copy.__name__ == "copy"
    assert FeedParserDict.get is shortcut


def test_every_corpus_feed_parses_the_same_with_and_without_the_shortcuts(
    shared_dir: Path,
) -> None:
    files = corpus_feeds(shared_dir)
    assert len(files) > 50
    for path in files:
        body = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            fast, fast_raw = parse_feed(body, None, BASES[0]), raw_parse(body)
            with feedparser_speedups.original():
                slow, slow_raw = parse_feed(body, None, BASES[0]), raw_parse(body)
        assert fast == slow, path.name
        assert repr(fast_raw) == repr(slow_raw), path.name


def test_feedparser_dict_keeps_its_old_names_and_special_keys() -> None:
    entry = FeedParserDict()
    entry["description"] = "old name"  # stored under the new name, summary
    entry["published_parsed"] = (2026, 1, 1)
    entry["tags"] = [FeedParserDict(term="chips")]
    entry["links"] = [FeedParserDict(rel="enclosure", href="https://x.example/a.mp3")]
    assert dict(entry)["summary"] == "old name"
    assert entry["description"] == entry.get("summary") == "old name"
    assert entry["category"] == "chips"
    assert entry["enclosures"] == [{"href": "https://x.example/a.mp3"}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert entry.get("updated_parsed") == (2026, 1, 1)
    assert "summary" in entry and "description" in entry and "title" not in entry
    assert entry.get("title", "none") == "none"
    assert entry.summary == "old name"
    with pytest.raises(KeyError):
        entry["title"]


def test_a_plain_absolute_link_skips_the_join_and_anything_else_is_joined() -> None:
    join = feedparser.mixin._urljoin
    with feedparser_speedups.original():
        shipped = feedparser.mixin._urljoin
    rnd = random.Random(7)
    alphabet = "aZ09:/?#;&=%@[]._-~ \t\\'()!$*+,"
    links = [
        "https://example.com/2026/11/22/a-story",
        "http://EXAMPLE.com",
        "https://example.com/a;b",
        "https://example.com/a?",
        "https://example.com/a#",
        "https://example.com//x",
        "https:///x",
        "HTTPS://example.com/x",
        "https://[::1]/x",
        "https://exämple.com/x",
        "relative/path",
        "/rooted",
        "f0-e0",
        "",
    ]
    links += ["https://" + "".join(rnd.choice(alphabet) for _ in range(12)) for _ in range(3000)]
    for base in BASES:
        for link in links:
            assert join(base, link) == shipped(base, link), (base, link)
            plain = feedparser_speedups._PLAIN_ABSOLUTE.match(link)
            if plain:
                assert urljoin(base, link) == link


def test_relative_links_are_resolved_against_each_feed_in_turn() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>A</title><link>/2026/a</link><guid>https://x.example/g?id=1</guid>"
        b"<description>&lt;a href='b'&gt;b&lt;/a&gt;</description></item></channel></rss>"
    )
    (entry,) = parse_feed(body, "application/rss+xml", "https://site.example/feed/").entries
    assert entry.url == "https://site.example/2026/a"
    assert entry.guid == "https://x.example/g?id=1"
    assert re.search(r'href="https://site\.example/feed/b"', entry.html)
    (other,) = parse_feed(body, "application/rss+xml", "https://other.example/").entries
    assert other.url == "https://other.example/2026/a"
    assert re.search(r'href="https://other\.example/b"', other.html)
