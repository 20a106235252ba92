"""Cleaning real saved pages and newsletters from ../shared/corpus (read from there)."""

from __future__ import annotations

import json
from pathlib import Path

from digest.clean import clean
from digest.config import Source
from digest.models import Item
from digest.readers import read_local


def cleaned(path: Path) -> tuple[Item, ...]:
    result = read_local(Source(name="corpus", path=path), path.parent)
    assert len(result.items) == 1, result.notes
    return clean(result.items[0]).items


def normal(text: str) -> str:
    return " ".join(text.replace("’", "'").split()).lower()


def test_saved_pages_keep_the_title_and_site_readability_expects(shared_dir: Path) -> None:
    expected_dir = shared_dir / "corpus" / "articles" / "expected"
    checked = matched_titles = matched_sites = 0
    for sidecar in sorted(expected_dir.glob("*.expected-metadata.json")):
        page = (
            shared_dir
            / "corpus"
            / "articles"
            / sidecar.name.replace(".expected-metadata.json", ".html")
        )
        expected = json.loads(sidecar.read_text("utf-8"))
        if not page.exists() or not expected.get("title"):
            continue
        items = cleaned(page)
        assert len(items) == 1, page.name
        (item,) = items
        checked += 1
        title = normal(expected["title"])
        matched_titles += normal(item.title) in title or title.startswith(normal(item.title))
        if expected.get("siteName") and item.source:
            matched_sites += normal(expected["siteName"])[:8] == normal(item.source)[:8]
        assert "<" not in item.text and "Skip to" not in item.text[:200], page.name
    assert checked >= 12
    assert matched_titles >= checked - 2  # The Verge and Energías Renovables title differently
    assert matched_sites >= 8


def test_a_page_title_loses_the_site_name_suffix(shared_dir: Path) -> None:
    (item,) = cleaned(shared_dir / "corpus" / "articles" / "omni_techcrunch.html")
    assert item.title == "SBF regrets declaring FTX bankrupt"
    assert item.source == "TechCrunch"
    assert item.url is not None and item.url.startswith("https://techcrunch.com/2022/11/16/")


def test_a_text_browser_dump_of_a_home_page_is_not_an_article(shared_dir: Path) -> None:
    assert cleaned(shared_dir / "corpus" / "articles" / "ghaws_nyt_homepage_lynx.txt") == ()


def test_a_saved_page_keeps_the_sections_and_tags_it_files_itself_under(shared_dir: Path) -> None:
    (item,) = cleaned(shared_dir / "corpus" / "articles" / "omni_github-blog.html")
    assert item.tags == ("Engineering", "Product", "github issues")
