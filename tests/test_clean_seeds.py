"""Each seed's cleaning as a specification: what must be gone, what must stay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from digest.clean import Cleaned, clean
from digest.config import Source
from digest.models import Item
from digest.readers import read_local

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def cleaned(name: str) -> Cleaned:
    result = read_local(Source(name="seeds", path=SEEDS / name), SEEDS)
    assert len(result.items) == 1
    return clean(result.items[0])


def only_item(name: str) -> Item:
    items = cleaned(name).items
    assert len(items) == 1
    return items[0]


EV_ARTICLE = "000_4b58ac93e8263fc0.txt"
EDITION = "001_becc4fd57bab33a5.txt"
NO_METADATA = "002_fe48f51c774e29d9.txt"
NENPOWER = "003_84e5fcd765fb43cd.txt"
WRITEUP = "004_98e5ee3a45b9197f.txt"

SCAFFOLDING = [
    "来源",
    "原文内容",
    "自动采集于",
    "URL Source:",
    "Published Time:",
    "Markdown Content:",
    "Title:",
    "Original article by",
    "Like (0)",
    "相关推荐",
    "Based on research-agent report",
    "NenPowerNenPower",
    "<b>",
    "<h2>",
    "<h3>",
    "**",
    "](http",
]


def all_text(items: tuple[Item, ...]) -> str:
    return "\n".join(f"{i.title}\n{i.text}\n{i.quote}" for i in items)


@pytest.mark.parametrize("name", [EV_ARTICLE, EDITION, NO_METADATA, NENPOWER, WRITEUP])
def test_no_seed_keeps_scraper_scaffolding_markup_or_mojibake(name: str) -> None:
    text = all_text(cleaned(name).items)
    for mess in SCAFFOLDING:
        assert mess not in text, f"{mess!r} survived cleaning of {name}"
    for mojibake in ("‚Äô", "Ê", "Ã", "â€", "\uf8ff", "üç"):
        assert mojibake not in text


@pytest.mark.parametrize("name", [EV_ARTICLE, EDITION, NO_METADATA, NENPOWER, WRITEUP])
def test_every_link_is_absolute_https_without_tracking(name: str) -> None:
    for item in cleaned(name).items:
        urls = [item.url] if item.url else []
        urls += [link.url for block in item.blocks for link in block.links]
        urls += [link.url for link in item.related]
        for url in urls:
            assert url.startswith("https://"), url
            for tracker in ("utm_", "mc_cid", "mc_eid", "fbclid", "_ga="):
                assert tracker not in url, url


def test_front_matter_title_that_contradicts_the_body_is_replaced() -> None:
    result = cleaned(EV_ARTICLE)
    (item,) = result.items
    assert item.title == "What’s next for EV batteries in 2026"
    assert "deepfake" not in item.title.lower()
    assert any("front matter said" in note.message for note in result.corrections)


def test_the_ev_article_keeps_its_reporting_and_loses_the_series_blurb() -> None:
    item = only_item(EV_ARTICLE)
    assert item.text.startswith("Demand for electric vehicles")
    assert "A big opportunity for sodium-ion batteries" in item.text
    assert "as we approach that milestone" in item.text.lower()
    assert "What’s Next series" not in item.text
    assert "A location I care about is" not in item.text
    assert item.published == dt.date(2026, 2, 2)
    assert item.source == "MIT Technology Review"
    assert item.url == (
        "https://www.technologyreview.com/2026/02/02/1132042/whats-next-for-ev-batteries-in-2026/"
    )


def test_mac_roman_mojibake_is_repaired_and_typographic_quotes_are_kept() -> None:
    items = cleaned(EDITION).items
    titles = [i.title for i in items]
    assert "What’s next for EV batteries in 2026" in titles
    assert "How to fight future insect infestations 🍄" in titles
    assert any("Kyle “KJ” Muldoon Jr." in i.text for i in items)


def test_a_newsletter_edition_is_split_into_its_stories() -> None:
    items = cleaned(EDITION).items
    by_kind = {kind: [i for i in items if i.kind == kind] for kind in ("article", "brief", "quote")}
    assert [i.title for i in by_kind["article"]] == [
        "Inside the marketplace powering bespoke AI deepfakes of real women",
        "What’s next for EV batteries in 2026",
        "Base-edited baby",
        "How Wi-Fi sensing became usable tech",
    ]
    assert len(by_kind["brief"]) == 10
    assert len(by_kind["quote"]) == 1
    assert all(i.via == "The Download" for i in items)


def test_must_reads_are_credited_to_the_outlet_they_link_to() -> None:
    briefs = {i.title: i for i in cleaned(EDITION).items if i.kind == "brief"}
    agents = briefs["A social network for AI agents is vulnerable to abuse"]
    assert agents.source == "404 Media"
    assert agents.url is not None and agents.url.startswith("https://www.404media.co/")
    assert agents.text == "A misconfiguration meant anyone could take control of any agent."
    assert [(r.source, r.text) for r in agents.related] == [
        ("Financial Times", "Moltbook is loosely modeled on Reddit, but humans are unable to post.")
    ]
    google = briefs["Google breached its own ethics rules to help an Israeli contractor"]
    assert google.source == "The Washington Post"
    assert google.paywalled
    assert google.published == dt.date(2026, 2, 1)
    ice = briefs["Capgemini is selling its unit linked to ICE"]
    assert len(ice.related) == 2


def test_glued_must_read_headings_are_separated() -> None:
    briefs = [i.title for i in cleaned(EDITION).items if i.kind == "brief"]
    assert "Google breached its own ethics rules to help an Israeli contractor" in briefs
    assert "America’s push for high-speed internet is under threat" in briefs
    assert all(not title[0].isdigit() for title in briefs)


def test_the_quote_of_the_day_keeps_its_words_speaker_and_outlet() -> None:
    (quote_item,) = [i for i in cleaned(EDITION).items if i.kind == "quote"]
    assert quote_item.quote is not None
    assert quote_item.quote.text == "It feels like a wild bison rampaging around in my computer."
    assert quote_item.quote.attribution.startswith("A user who signed up to AI agent Moltbot")
    assert quote_item.quote.source == "Rest of World"


def test_edition_lead_stories_keep_their_author_and_full_story_link() -> None:
    leads = {i.title: i for i in cleaned(EDITION).items if i.kind == "article"}
    deepfakes = leads["Inside the marketplace powering bespoke AI deepfakes of real women"]
    assert deepfakes.author == "James O'Donnell"
    assert deepfakes.url == (
        "https://www.technologyreview.com/2026/01/30/1131945/"
        "inside-the-marketplace-powering-bespoke-ai-deepfakes-of-real-women/"
    )
    assert "Read the full story" not in deepfakes.text.split(".")[0]


def test_edition_furniture_and_light_reading_are_dropped_and_reported() -> None:
    result = cleaned(EDITION)
    text = all_text(result.items)
    assert "This is today's edition" not in text
    assert "Empire biscuit" not in text
    assert "What’s Next series" not in text
    assert any("light-reading" in n.message for n in result.dropped)


def test_a_file_with_no_metadata_is_undated_and_unattributed() -> None:
    result = cleaned(NO_METADATA)
    (item,) = result.items
    assert item.published is None
    assert item.source is None
    assert item.url is None
    assert item.title.startswith("Two recent developments")
    assert any("first sentence" in n.message for n in result.corrections)


def test_one_line_paragraphs_stay_apart_and_lists_stay_lists() -> None:
    item = only_item(NO_METADATA)
    kinds = [b.kind for b in item.blocks[:4]]
    assert kinds == ["paragraph", "list_item", "list_item", "paragraph"]


def test_raw_html_in_plain_text_becomes_structure() -> None:
    item = only_item(NENPOWER)
    headings = [b.text for b in item.blocks if b.kind == "heading"]
    assert "Technological Revolution: Transitioning from Liquid to Solid" in headings
    assert "1.1 Disruption of Material Systems" in headings
    assert "energy density exceeding 400Wh/kg" in item.text


def test_page_chrome_after_the_article_is_removed_but_its_credit_is_used() -> None:
    result = cleaned(NENPOWER)
    (item,) = result.items
    assert item.text.rstrip().endswith("global automotive and energy sectors.")
    assert item.source == "NenPower"
    assert item.url == (
        "https://nenpower.com/blog/solid-state-batteries-set-to-revolutionize-electric-vehicles"
        "-with-1500-km-range-and-triple-charging-speed/"
    )
    assert item.published is None  # the dates in the chrome belong to other posts
    assert item.title.startswith("Solid-State Batteries Set to Revolutionize")
    assert not item.text.startswith("Solid-State")  # the category label is gone


def test_a_generated_writeup_loses_its_byline_and_footer() -> None:
    item = only_item(WRITEUP)
    assert item.title == "Solid-State Batteries in 2026 — The Tipping Point"
    assert item.published == dt.date(2026, 2, 27)
    assert "Published:" not in item.text
    assert "Author:" not in item.text
    assert item.text.startswith("After years of “just around the corner,”")
