"""How alike two tellings of the news are, measured on the words that carry meaning.

Outlets retell a story in their own words, so shared sentences are rare; what
they do share are the names, numbers and key nouns of the event. A story is
therefore reduced to its content words (headline plus lead), weighted by how
rare each word is among the day's items, so "SAIC" and "820Wh/L" count for
more than "battery". Two pieces on one topic share the topic's words but not
the event's, and stay apart.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

LEAD_WORDS = 120

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    says said say new one two three year years first last may might must could us like get got
    make makes made many much even still via per across amid among around according told
    week weeks day days today yesterday tomorrow monday tuesday wednesday thursday friday
    saturday sunday now s t don won isn aren wasn
    """.split()
)
_TOKEN = re.compile(r"\w(?:[\w./-]*\w)?")
_POSSESSIVE = re.compile(r"['’]s\b")


@dataclass(frozen=True)
class Features:
    """What similarity looks at: the headline's content words and those of headline + lead."""

    title: frozenset[str]
    words: frozenset[str]


def content_words(text: str) -> list[str]:
    words = _TOKEN.findall(_POSSESSIVE.sub("", text.lower()))
    return [w for w in words if (len(w) > 1 or w.isdigit()) and w not in STOPWORDS]


def features(title: str, body: str) -> Features:
    title_words = content_words(title)
    lead = content_words(body[: LEAD_WORDS * 12])[:LEAD_WORDS]
    return Features(title=frozenset(title_words), words=frozenset(title_words + lead))


class Scorer:
    """Similarity among one batch of items, with IDF weights learnt from that batch."""

    def __init__(self, documents: list[Features]) -> None:
        counts: Counter[str] = Counter()
        for doc in documents:
            counts.update(doc.words)
        n = len(documents)
        self.idf = {word: math.log((1 + n) / (1 + df)) + 1.0 for word, df in counts.items()}
        self.documents = documents
        self.totals: dict[int, float] = {}

    def _weight(self, words: Iterable[str]) -> float:
        idf = self.idf
        return sum(idf.get(w, 1.0) for w in words)

    def _total(self, i: int) -> float:
        """A document's whole weight, computed only for documents that get compared."""
        if i not in self.totals:
            self.totals[i] = self._weight(self.documents[i].words)
        return self.totals[i]

    def similarity(self, i: int, j: int) -> float:
        """0..1: IDF-weighted overlap of content words, with the headlines' overlap mixed in."""
        a, b = self.documents[i], self.documents[j]
        shared = self._weight(a.words & b.words)
        union = self._total(i) + self._total(j) - shared
        words = shared / union if union else 0.0
        return round(0.65 * words + 0.35 * _jaccard(a.title, b.title), 4)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
