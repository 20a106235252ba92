"""The quote of the day: quoted speech attributed to a named person.

A newsletter edition may hand us its own quote of the day; otherwise we look in
the day's stories, best-ranked first, for words in quotation marks with a
speaker named next to them ("…," said Shirley Meng, a professor at …). Quotes
attributed to a pronoun, an institution or nobody are skipped: a reader wants
to know who said it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from digest.models import Item, Quote, Story

MIN_WORDS = 6
MAX_WORDS = 45

_NAME = r"(?P<name>[A-Z][\w'’.-]+(?:\s+(?:[A-Z][\w'’.-]+|de|van|von|der|da|bin|al-?)){1,3})"
_ROLE = r"(?:,\s*(?P<role>[^.“”\"]{3,120}?))?"
_VERB = r"(?:said|says|told|added|explained|wrote|argued|warned|noted)"
_QUOTE = r"[“\"](?P<quote>[^”\"]{10,400}?)[,.!?]?[”\"]"
_PATTERNS = (
    # “…,” said Shirley Meng, a professor at the University of Chicago.
    re.compile(_QUOTE + r",?\s+" + _VERB + r"\s+" + _NAME + _ROLE + r"[.;]"),
    # “…,” Shirley Meng said.  /  “…,” Meng, a professor, said.
    re.compile(_QUOTE + r",?\s+" + _NAME + _ROLE + r",?\s+" + _VERB + r"\b"),
    # Shirley Meng said: “…”  /  Shirley Meng, a professor, says, “…”
    re.compile(_NAME + _ROLE + r",?\s+" + _VERB + r"[:,]?\s+" + _QUOTE),
)
_NOT_PEOPLE = frozenset(
    "The This That It He She They We I You A An In On At For But And Company Officials".split()
)
# The last word of a name that is a body or a document, not a person ("GNU General Public
# License", "the European Commission", "Acme Inc").
_NOT_PERSONS = frozenset(
    """License Licence Act Agreement Report Foundation Institute University College Inc Corp
    Company Ministry Department Commission Agency Court Council Committee Times Post News
    Journal Association Group Party Government Office Bureau Board Union""".split()
)


def quote_of_the_day(edition_quotes: Iterable[Item], stories: Iterable[Story]) -> Quote | None:
    chosen = sorted((q for q in edition_quotes if q.quote), key=lambda q: q.id)
    if chosen:
        return chosen[0].quote
    for story in stories:
        for item in story.items:
            quote = find_quote(item)
            if quote is not None:
                return quote
    return None


def find_quote(item: Item) -> Quote | None:
    """The first well-formed, attributed quote in the item's paragraphs."""
    for block in item.blocks:
        for pattern in _PATTERNS:
            for match in pattern.finditer(block.text):
                quote = _quote(match, item)
                if quote is not None:
                    return quote
    return None


def _quote(match: re.Match[str], item: Item) -> Quote | None:
    words = match["quote"].strip()
    name = match["name"].strip()
    if not MIN_WORDS <= len(words.split()) <= MAX_WORDS:
        return None
    if name.split()[0] in _NOT_PEOPLE or len(name.split()) < 2:
        return None
    if name.split()[-1].rstrip(".") in _NOT_PERSONS:
        return None
    role = (match["role"] or "").strip(" ,")
    attribution = f"{name}, {role}" if role else name
    if not re.search(r"[.!?]$", words):
        words += "."
    return Quote(text=words, attribution=attribution, source=item.source, url=item.url)
