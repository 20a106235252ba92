"""Newsletter editions forwarded as e-mails (.eml) split into their stories, like markdown ones.

The real editions are six saved Download e-mails in ../shared/corpus (read from
there, never copied); the small cases are built here.
"""

from __future__ import annotations

import datetime as dt
import email.message
import email.policy
from pathlib import Path

import pytest
from conftest import forwarded_email

from digest.clean import Cleaned, clean
from digest.config import Source
from digest.mailhtml import to_markdown
from digest.maillinks import restore_links
from digest.models import Item
from digest.readers import read_email, read_local
from digest.urls import clean_url, outlet_for

# Stories in each edition, counted by reading the e-mails: lead stories, ten
# must-reads, the quote of the day and "the big story". Edition 03 has one lead
# ("These climate tech companies just got $60 million") that links nowhere.
EDITIONS = {
    "01": {"leads": 3, "related": 8, "date": dt.date(2024, 6, 24)},
    "02": {"leads": 3, "related": 6, "date": dt.date(2024, 6, 25)},
    "03": {"leads": 2, "related": 6, "date": dt.date(2024, 6, 27)},
    "04": {"leads": 2, "related": 9, "date": dt.date(2024, 6, 28)},
    "05": {"leads": 2, "related": 7, "date": dt.date(2024, 5, 30)},
    "06": {"leads": 3, "related": 10, "date": dt.date(2024, 5, 31)},
}


@pytest.fixture(scope="session")
def download_dir(shared_dir: Path) -> Path:
    path = shared_dir / "corpus" / "newsletters" / "the-download"
    if not path.is_dir():
        pytest.skip(f"the shared corpus is missing: {path}")
    return path


def cleaned(path: Path) -> Cleaned:
    result = read_local(Source(name="inbox", path=path), path.parent)
    assert len(result.items) == 1, result.notes
    return clean(result.items[0])


def edition(download_dir: Path, number: str) -> Cleaned:
    return cleaned(download_dir / f"the-download-{number}.eml")


def of_kind(items: tuple[Item, ...], kind: str) -> list[Item]:
    return [i for i in items if i.kind == kind]


def everything_shown(item: Item) -> str:
    links = [f"{link.text} {link.url} {link.source}" for link in item.related]
    return "\n".join([item.title, item.text, item.url or "", item.source or "", *links])


@pytest.mark.parametrize("number", sorted(EDITIONS))
def test_a_saved_download_email_becomes_one_item_per_story_each_credited_to_the_outlet_it_links(
    download_dir: Path, number: str
) -> None:
    items = edition(download_dir, number).items
    leads = EDITIONS[number]["leads"]
    assert len(of_kind(items, "brief")) == 10
    assert len(of_kind(items, "quote")) == 1
    assert len(of_kind(items, "article")) == leads + 1  # the leads and the big story
    for brief in of_kind(items, "brief"):
        assert brief.url is not None
        known = outlet_for(brief.url)
        assert brief.source == known or "." in known, (brief.title, brief.source, brief.url)
    assert all(i.via == "The Download" for i in items)


def test_must_reads_from_an_email_keep_headline_link_outlet_and_paywall(
    download_dir: Path,
) -> None:
    briefs = {i.title: i for i in of_kind(edition(download_dir, "01").items, "brief")}
    energy = briefs["Big Tech firms are going all-in on experimental clean energy projects"]
    assert energy.source == "The Washington Post"
    assert energy.url == (
        "https://www.washingtonpost.com/business/2024/06/21/"
        "artificial-intelligence-nuclear-fusion-climate/"
    )
    assert energy.paywalled
    assert energy.published == dt.date(2024, 6, 21)
    assert energy.text.startswith("Due to the fact AI is so horribly polluting.")
    starliner = briefs["NASA is indefinitely delaying the return of Starliner"]
    assert starliner.source == "Ars Technica" and not starliner.paywalled
    assert briefs["The next wave of weight loss drugs is coming"].source == "NBC"


@pytest.mark.parametrize("number", sorted(EDITIONS))
def test_every_related_link_of_an_email_edition_is_kept_with_its_outlet(
    download_dir: Path, number: str
) -> None:
    items = edition(download_dir, number).items
    related = [link for i in items for link in i.related]
    assert len(related) == EDITIONS[number]["related"]
    assert all(link.source and link.text and link.url.startswith("https://") for link in related)


def test_a_related_link_set_in_italics_with_its_plus_stays_a_related_link(
    download_dir: Path,
) -> None:
    briefs = {i.title: i for i in of_kind(edition(download_dir, "03").items, "brief")}
    burgers = briefs["McDonalds has rejected plant-based burgers 🍔"]
    assert burgers.source == "Quartz"
    assert [(r.source, r.text) for r in burgers.related] == [
        ("MIT Technology Review", "Here’s what a lab-grown burger tastes like.")
    ]


@pytest.mark.parametrize("number", sorted(EDITIONS))
def test_links_in_an_email_edition_lead_to_the_stories_not_to_the_mailers_tracker(
    download_dir: Path, number: str
) -> None:
    for item in edition(download_dir, number).items:
        shown = everything_shown(item)
        for tracker in ("list-manage.com", "mc_eid", "mc_cid", "utm_", "truid"):
            assert tracker not in shown, (item.title, tracker)


def test_the_quote_of_the_day_from_an_email_edition_names_its_speaker(download_dir: Path) -> None:
    (first,) = of_kind(edition(download_dir, "01").items, "quote")
    assert first.quote is not None
    assert first.quote.text == "The internet has just gotten so much duller."
    assert first.quote.attribution == "Kelly, a copywriter from New Hampshire"
    assert first.quote.source == "The Wall Street Journal"
    assert first.quote.url == "https://www.wsj.com/tech/ai/ai-replace-freelance-jobs-51807bc7"
    speakers = []
    for number in sorted(EDITIONS):
        (quote,) = of_kind(edition(download_dir, number).items, "quote")
        assert quote.quote is not None and quote.quote.url is not None
        speakers.append(quote.quote.attribution)
    assert speakers[1] == "Sarah T. Roberts, a UCLA professor who studies social media moderation"
    assert speakers[4].startswith("Liz Hamren, CEO of smart doorbell company Ring")
    assert not any(s.endswith((" to", " tells", ",")) for s in speakers)


def test_newsletter_chrome_never_becomes_a_story(download_dir: Path) -> None:
    chrome = [
        "The Download",
        "daily dose",
        "By Charlotte Jee",
        "Sponsored by",
        "In partnership with",
        "Subscribe",
        "ADVERTISEMENT",
        "Rocket Software",
        "View in browser",
        "Unsubscribe",
        "Manage your preferences",
        "forwarded to you",
        "App Store",
        "Copyright",
        "Top image credit",
        "nice things",
        "n2rss@",
        "This story is from",
    ]
    for number in sorted(EDITIONS):
        result = edition(download_dir, number)
        for item in result.items:
            shown = everything_shown(item)
            assert not [c for c in chrome if c in shown], (number, item.title)
        reasons = " ".join(n.message for n in result.dropped)
        assert "edition byline removed" in reasons
        assert "light-reading links skipped" in reasons
    sponsored = " ".join(n.message for n in edition(download_dir, "05").dropped)
    assert "edition sponsor removed: 'Sponsored by Rocket Software'" in sponsored


def test_a_lead_story_the_email_gives_no_link_is_left_out_and_reported(
    download_dir: Path,
) -> None:
    result = edition(download_dir, "03")
    assert "These climate tech companies just got $60 million" not in {
        i.title for i in result.items
    }
    assert any("These climate tech companies" in n.message for n in result.dropped)


@pytest.mark.parametrize("number", sorted(EDITIONS))
def test_an_email_edition_is_dated_by_its_date_header_unless_a_link_says_otherwise(
    download_dir: Path, number: str
) -> None:
    items = edition(download_dir, number).items
    undated_links = [i for i in items if i.url and "/20" not in i.url]
    assert undated_links
    assert all(i.published == EDITIONS[number]["date"] for i in undated_links)


def test_an_edition_saved_as_a_web_page_splits_like_the_email(
    download_dir: Path, tmp_path: Path
) -> None:
    eml = download_dir / "the-download-02.eml"
    _, html, _ = read_email(eml.read_bytes())
    page = tmp_path / "download.html"
    page.write_text(html, "utf-8")
    from_page = cleaned(page).items
    from_email = edition(download_dir, "02").items
    assert [(i.title, i.url, i.source) for i in from_page] == [
        (i.title, i.url, i.source) for i in from_email
    ]
    assert all(i.via == "The Download" for i in from_page)


@pytest.mark.parametrize(
    "name",
    ["omnivore_morning-brew.html", "omnivore_axios-am-finish-line.html"],
)
def test_other_html_newsletters_still_become_one_item_each_as_page_or_email(
    shared_dir: Path, tmp_path: Path, name: str
) -> None:
    page = shared_dir / "corpus" / "newsletters" / name
    if not page.is_file():
        pytest.skip(f"the shared corpus is missing: {page}")
    (as_page,) = cleaned(page).items
    sender, date = "A Newsletter <news@example.com>", "Mon, 24 Jun 2024 12:05:43 +0000"
    eml = forwarded_email(page.read_text("utf-8"), tmp_path / "newsletter.eml", sender, date)
    (as_email,) = cleaned(eml).items
    assert as_email.title == "Today's edition"
    assert as_email.via is None and as_page.via is None
    assert as_email.text == as_page.text


TRACKED_HTML = (
    "<p>Big news today. (<a href='https://x.us11.list-manage.com/track/click?u=1&amp;id=a&amp;e=9'>"
    "Wired</a> $)</p><a href='https://x.us11.list-manage.com/track/click?u=1&amp;id=b&amp;e=9'>"
    "<img alt='Logo' src='logo.png'></a>"
    "<p>And <a href='https://x.us11.list-manage.com/track/click?u=1&amp;id=c&amp;e=9'>more</a></p>"
)


def test_a_tracked_link_is_restored_where_the_plain_part_gives_the_same_link_words() -> None:
    plain = (
        "Big news today. (Wired (https://www.wired.com/story/big/?mc_cid=1) $)\n"
        "https://example.com/home\n"
        "And something else (https://example.com/else)\n"
    )
    result = restore_links(TRACKED_HTML, plain)
    assert "https://www.wired.com/story/big/?mc_cid=1" in result.html
    assert "https://example.com/home" in result.html  # an image link is a bare address
    assert "https://example.com/else" not in result.html  # "more" ≠ "something else"
    assert result.restored == 2
    assert result.unpaired == ("https://x.us11.list-manage.com/track/click?u=1&id=c&e=9",)


def test_a_mailers_tracker_is_never_shown_and_reader_ids_and_text_fragments_go() -> None:
    assert clean_url("https://x.us11.list-manage.com/track/click?u=1&id=a&e=9") is None
    assert clean_url("https://x.us11.list-manage.com/unsubscribe?u=1&id=a&e=9") is None
    assert clean_url("https://example.com/story?truid=abc&x=1") == "https://example.com/story?x=1"
    assert clean_url("https://example.com/a?gad_source=1#:~:text=In%20this") == (
        "https://example.com/a"
    )


def test_email_html_becomes_markdown_the_edition_splitter_reads() -> None:
    html = (
        "<html><head><title>Subject line</title><style>p{color:red}</style></head><body>"
        "<span style='display:none'>preview text</span>"
        "<table><tr><td><h1><img src='logo.png'><br>The Letter</h1>"
        "<h2>A <strong>lead</strong> story</h2><p>It happened.<br>"
        "<a href='https://example.com/a'><img alt='pic' src='p.png'></a>"
        "<a href='https://example.com/story'>Read the full story</a>.</p>"
        "<strong>1 A must-read</strong><br>Why it matters. (<a href='https://example.com/x'>"
        "X</a> $)<br>+ <em>See also. (</em><a href='https://example.com/y'>Y</a>)"
        "</td></tr></table></body></html>"
    )
    mail = to_markdown(html)
    assert mail.title == "Subject line"
    assert mail.markdown.split("\n") == [
        "**The Letter**",
        "",
        "**A lead story**",
        "",
        "It happened.",
        "[Read the full story](https://example.com/story).",
        "",
        "**1 A must-read**",
        "Why it matters. ([X](https://example.com/x) $)",
        "+ _See also._ ([Y](https://example.com/y))",
        "",
    ]


def test_tracked_links_the_plain_part_does_not_explain_are_reported(tmp_path: Path) -> None:
    message = email.message.EmailMessage(policy=email.policy.default)
    message["Subject"] = "Tracked"
    message.set_content("A plain part with no links at all.")
    message.add_alternative(TRACKED_HTML, subtype="html")
    (tmp_path / "tracked.eml").write_bytes(message.as_bytes())
    result = read_local(Source(name="inbox", path=tmp_path), tmp_path)
    assert [n.message for n in result.notes] == [
        "3 click-tracking links have no match in the plain-text part; they are left out"
    ]
