"""The quote of the day: attributed quoted speech, or the edition's own pick."""

from __future__ import annotations

import pytest

from digest.models import Block, Item, Quote
from digest.quotes import find_quote


def item(text: str) -> Item:
    return Item(
        id="x",
        origin="test",
        title="T",
        url="https://example.com/story",
        source="Example News",
        published=None,
        blocks=(Block("paragraph", text),),
    )


@pytest.mark.parametrize(
    "text",
    [
        "“Sodium is finally cheap enough to matter for small cars,” said Shirley Meng, "
        "a professor of molecular engineering at the University of Chicago.",
        "“Sodium is finally cheap enough to matter for small cars,” Shirley Meng said.",
        "Shirley Meng said: “Sodium is finally cheap enough to matter for small cars.”",
    ],
)
def test_quoted_speech_with_a_named_speaker_is_a_quote(text: str) -> None:
    quote = find_quote(item(text))
    assert quote is not None
    assert quote.text == "Sodium is finally cheap enough to matter for small cars."
    assert quote.attribution.startswith("Shirley Meng")
    assert quote.source == "Example News"


def test_the_speakers_role_is_kept_in_the_attribution() -> None:
    quote = find_quote(
        item(
            "“Sodium is finally cheap enough to matter for small cars,” said Shirley Meng, "
            "a professor of molecular engineering at the University of Chicago."
        )
    )
    assert quote == Quote(
        text="Sodium is finally cheap enough to matter for small cars.",
        attribution=(
            "Shirley Meng, a professor of molecular engineering at the University of Chicago"
        ),
        source="Example News",
        url="https://example.com/story",
    )


@pytest.mark.parametrize(
    "text",
    [
        "“Sodium is finally cheap enough to matter for small cars,” he said.",
        "“Sodium is finally cheap enough to matter for small cars,” the company said.",
        "The report calls it “a turning point” for the industry.",
        "“Yes,” said Shirley Meng.",
        "GNU General Public License warns: “The entire risk as to the quality is with you.”",
    ],
)
def test_unattributed_scare_quoted_or_tiny_quotes_are_not_quotes(text: str) -> None:
    assert find_quote(item(text)) is None
