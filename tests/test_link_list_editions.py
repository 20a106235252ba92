"""Link-list editions (TLDR and its kin) split into one item per linked headline.

The small cases are written here and in tests/data; the real editions are TLDR
web editions and a saved TLDR e-mail in ../shared/corpus (read from there,
never copied).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import forwarded_email

from digest.clean import Cleaned, clean
from digest.config import Source
from digest.readers import read_local
from digest.urls import outlet_for

DATA = Path(__file__).resolve().parent / "data"

# Stories, sponsors and job ads in each corpus edition, counted by reading them.
TLDR_EDITIONS = {
    "tldr-tech_2026-08-20.md": {"stories": 14, "sponsors": 3, "jobs": 1, "name": "TLDR"},
    "tldr-tech_2025-02-03.md": {"stories": 14, "sponsors": 1, "jobs": 0, "name": "TLDR"},
    "tldr-ai_2026-08-21.md": {"stories": 16, "sponsors": 3, "jobs": 1, "name": "TLDR AI"},
    "omnivore_tldr_email.html": {"stories": 14, "sponsors": 0, "jobs": 0, "name": "TLDR"},
}


def cleaned(path: Path) -> Cleaned:
    result = read_local(Source(name="inbox", path=path), path.parent)
    assert len(result.items) == 1, result.notes
    return clean(result.items[0])


def cleaned_markdown(folder: Path, text: str) -> Cleaned:
    page = folder / "page.md"
    page.write_text(text, "utf-8")
    return cleaned(page)


def reasons(result: Cleaned) -> str:
    return "\n".join(n.message for n in result.dropped)


@pytest.fixture(scope="session")
def newsletters(shared_dir: Path) -> Path:
    path = shared_dir / "corpus" / "newsletters"
    if not path.is_dir():
        pytest.skip(f"the shared corpus is missing: {path}")
    return path


def test_a_tldr_shaped_edition_becomes_one_brief_per_linked_headline() -> None:
    result = cleaned(DATA / "linklist_edition.md")
    assert [(i.title, i.url, i.source) for i in result.items] == [
        (
            "Household robot folds a basket of laundry in four minutes",
            "https://www.theverge.com/2026/3/3/robot-laundry",
            "The Verge",
        ),
        (
            "Chipmaker opens a plant that turns beach sand into wafers",
            "https://www.reuters.com/technology/chips-from-sand-2026-03-03/",
            "Reuters",
        ),
        ("quicksort-ng", "https://github.com/example/quicksort-ng", "github.com"),
        (
            "Why tabs beat spaces, again",
            "https://blog.example.org/tabs-again#benchmarks",  # its "?utm_source" was after the #
            "blog.example.org",
        ),
    ]
    robot = result.items[0]
    assert robot.text.startswith("A startup showed a two-armed robot")
    assert robot.text.endswith("to homes next year.")
    assert all(i.kind == "brief" for i in result.items)
    assert all(i.via == "TLDR" for i in result.items)
    assert all(i.published == dt.date(2026, 3, 4) for i in result.items)


def test_sponsors_job_ads_and_the_newsletters_furniture_are_left_out_and_reported() -> None:
    result = cleaned(DATA / "linklist_edition.md")
    shown = "\n".join(f"{i.title}\n{i.text}\n{i.url}" for i in result.items)
    for chrome in ("Acme", "Sponsor", "hiring", "ashbyhq", "Love TLDR", "referral", "Subscribe"):
        assert chrome not in shown
    why = reasons(result)
    assert "edition sponsor removed: 'Ship faster with Acme CI (Sponsor)'" in why
    assert "edition job ad removed: 'Data Engineer at TLDR ($150-180k, Remote)'" in why
    for furniture in ("Newsletters", "Love TLDR? Tell your friends", "Join 1,600,000 readers"):
        assert f"edition furniture removed: '{furniture}" in why


def test_a_link_list_is_known_by_its_shape_not_by_its_name(tmp_path: Path) -> None:
    # Headings in bold or with the link inside them, no "TLDR" anywhere, no date.
    page = "\n\n".join(
        [
            "---\ntitle: The Friday Five\ndate: 2025-05-02\n---",
            "Good morning! Five things worth your time this week.",
            "**[Solar overtakes coal in Europe](https://ember-energy.org/solar-coal?utm_campaign=x)**",
            "Solar panels made more of Europe's electricity than coal for the first full year.",
            "### [A battery made of salt](https://www.electrek.co/2025/05/01/salt-battery/)",
            "A sodium battery maker says its cells survive ten thousand charges.",
            "**[The quiet return of the tram](https://www.citylab.example/trams)**",
            "Mid-sized cities are laying new tram lines for the first time in decades.",
        ]
    )
    result = cleaned_markdown(tmp_path, page)
    assert [(i.title, i.source, i.via) for i in result.items] == [
        ("Solar overtakes coal in Europe", "ember-energy.org", "The Friday Five"),
        ("A battery made of salt", "Electrek", "The Friday Five"),
        ("The quiet return of the tram", "citylab.example", "The Friday Five"),
    ]
    assert result.items[0].url == "https://ember-energy.org/solar-coal"
    assert all(i.published == dt.date(2025, 5, 2) for i in result.items)


ARTICLE = """# City votes to pedestrianise its old town

The council voted on Tuesday to close the old town's streets to cars from next spring,
after a two-year trial in which shop takings rose and complaints about noise fell by half.
{body}

## Related stories

### [Trams return to the high street](https://news.example.com/trams)

The first new line in sixty years opens in May.

### [Parking fees to double in the centre](https://{host2}/parking)

Drivers will pay twice as much from April.

### [Cycle lanes: a year on](https://{host3}/cycle-lanes)

What changed after the council painted forty kilometres of lanes.
"""


@pytest.mark.parametrize(
    ("hosts", "paragraphs"),
    [
        (("news.example.com", "news.example.com"), 0),  # the related box links home
        (("cityhall.example", "cycling.example"), 8),  # the article is most of the words
    ],
)
def test_an_article_with_a_related_stories_box_stays_one_item(
    tmp_path: Path, hosts: tuple[str, str], paragraphs: int
) -> None:
    body = "\n\n".join(
        "The mayor said the change would be reviewed after a year, and that deliveries "
        "would still be allowed before ten in the morning on weekdays." + f" ({n})"
        for n in range(paragraphs)
    )
    text = ARTICLE.format(body=body, host2=hosts[0], host3=hosts[1])
    (item,) = cleaned_markdown(tmp_path, text).items
    assert item.title == "City votes to pedestrianise its old town"
    assert item.via is None
    assert "Trams return to the high street" in item.text


@pytest.mark.parametrize("name", sorted(TLDR_EDITIONS))
def test_a_real_tldr_edition_splits_into_its_stories(newsletters: Path, name: str) -> None:
    expected = TLDR_EDITIONS[name]
    result = cleaned(newsletters / name)
    assert len(result.items) == expected["stories"]
    why = reasons(result)
    assert why.count("edition sponsor removed") == expected["sponsors"]
    assert why.count("edition job ad removed") == expected["jobs"]
    for item in result.items:
        assert item.via == expected["name"]
        assert item.url is not None and item.source == outlet_for(item.url)
        assert "utm_" not in item.url and "&amp;" not in item.url
        assert "minute read)" not in item.title and "(GitHub Repo)" not in item.title
        assert "Sponsor" not in item.title and "tldr.tech" not in item.url
        assert item.text and item.published is not None
    shown = "\n".join(i.text for i in result.items)
    for chrome in ("Subscribe", "Join 1,", "Newsletters", "Timestamp", "Learn more"):
        assert chrome not in shown, chrome


def test_a_tldr_story_keeps_its_outlet_link_and_summary(newsletters: Path) -> None:
    items = {i.title: i for i in cleaned(newsletters / "tldr-tech_2026-08-20.md").items}
    stripe = items['Stripe says "the singularity" has begun']
    assert stripe.url == "https://www.axios.com/2026/08/19/stripe-payments-openrouter-singularity"
    assert stripe.source == "axios.com"
    assert stripe.published == dt.date(2026, 8, 20)
    assert stripe.text.startswith("Stripe says that the singularity started on January 1.")
    assert items["OneCLI"].url == "https://github.com/onecli/onecli"


def test_the_saved_tldr_email_splits_the_same_as_page_or_forwarded_email(
    newsletters: Path, tmp_path: Path
) -> None:
    page = newsletters / "omnivore_tldr_email.html"
    as_page = cleaned(page).items
    sender, date = "TLDR <dan@tldrnewsletter.com>", "Mon, 11 Sep 2023 12:05:43 +0000"
    eml = forwarded_email(page.read_text("utf-8"), tmp_path / "tldr.eml", sender, date)
    as_email = cleaned(eml).items
    assert [(i.title, i.url, i.source) for i in as_email] == [
        (i.title, i.url, i.source) for i in as_page
    ]
    assert as_page[4].title == "Bun 1.0" and as_page[4].url == "https://bun.sh/blog/bun-v1.0"
    assert all(i.published == dt.date(2023, 9, 11) for i in as_page + as_email)
    fragment = next(i for i in as_page if "vendr.com" in (i.url or ""))
    assert fragment.url == (
        "https://www.vendr.com/blog/price-hikes-continue#costs-are-driving-price-hikes"
    )
