"""How alike two tellings of the news are, measured on the words that carry meaning.

Outlets retell a story in their own words, so shared sentences are rare; what
they do share are the names, numbers and key nouns of the event. A story is
therefore reduced to its content words (headline plus lead), weighted by how
rare each word is among the day's items, so "SAIC" and "820Wh/L" count for
more than "battery". Two pieces on one topic share the topic's words but not
the event's, and stay apart.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

LEAD_WORDS = 120
RARE_DOCUMENTS = 3  # a word in at most this many of the batch's items is rare ...
RARE_SHARE = 200  # ... or in at most one in this many, in a large batch
RARE_MOST = 0.05  # ... but never in more than one in twenty: in a day of 15 items, 3 is many

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
) | frozenset(
    # the function words of the other languages feeds come in (Portuguese, Spanish, German,
    # French), which would otherwise pass for shared content ("de", "em", "la", "die"), and
    # their words for years, days and "said"; not the ones English news uses as words of
    # its own ("son", "tag", "hat", "dice")
    """
    de da do das dos em na no nas nos ao aos um uma uns umas os as que se por para com sem
    mais mas como foi ser são é à às pelo pela pelos pelas seu sua seus suas já ou entre
    el la los las del al en un una unos unas es con lo su sus más pero sobre este esta
    ese esa hay fue ha han le les des du et est une pour dans sur pas au aux ce cette qui
    avec plus sont été der die das den dem des ein eine einen einem einer eines und ist mit
    von zu zum zur im auf für nicht sich auch bei aus nach wie über wird werden oder sind
    ano anos año años jahr jahre jahren an ans année années dia dias día días tage tagen
    jour jours semana semanas woche wochen semaine mês meses mes monat monate mois hoje hoy
    heute ontem ayer gestern amanhã mañana morgen segunda-feira terça-feira quarta-feira
    quinta-feira sexta-feira sábado domingo lunes martes miércoles jueves viernes montag
    dienstag mittwoch donnerstag freitag samstag sonntag lundi mardi mercredi jeudi vendredi
    samedi dimanche disse diz dijo sagte sagt dit afirmou afirmó según laut selon
    """.split()
)
_TOKEN = re.compile(r"\w(?:[\w./-]*\w)?")
_POSSESSIVE = re.compile(r"['’]s\b", re.I)


@dataclass(frozen=True)
class Features:
    """What similarity looks at: the headline's content words and those of headline + lead."""

    title: frozenset[str]
    words: frozenset[str]


def content_words(text: str) -> list[str]:
    words = _TOKEN.findall(_POSSESSIVE.sub("", text.lower()))
    return [w for w in words if (len(w) > 1 or w.isdigit()) and w not in STOPWORDS]


def content_tokens(text: str) -> list[str]:
    """The content words as the text writes them (case kept): `content_words` before
    lower-casing."""
    words = _TOKEN.findall(_POSSESSIVE.sub("", text))
    return [w for w in words if (len(w) > 1 or w.isdigit()) and w.lower() not in STOPWORDS]


def features(title: str, body: str) -> Features:
    title_words = content_words(title)
    lead = content_words(body[: LEAD_WORDS * 12])[:LEAD_WORDS]
    return Features(title=frozenset(title_words), words=frozenset(title_words + lead))


class Scorer:
    """Similarity among one batch of items, with IDF weights learnt from that batch.

    Each distinct word is numbered once (by its place in the sorted vocabulary, so the
    numbers, and every float sum over them, are the same on every run) and each
    document is kept as a sorted array of its word numbers, all in one numpy array,
    not as a set of strings: 10,000 items then take a few megabytes instead of a few
    hundred, and overlaps are counted by numpy.
    """

    def __init__(self, documents: Iterable[Features]) -> None:
        numbers = _Numbers()
        words: list[Words] = []
        titles: list[Words] = []
        for doc in documents:
            words.append(np.fromiter(map(numbers.__getitem__, doc.words), np.int32, len(doc.words)))
            titles.append(
                np.fromiter(map(numbers.__getitem__, doc.title), np.int32, len(doc.title))
            )
        order = sorted(range(len(numbers)), key=list(numbers).__getitem__)
        rank = np.empty(len(numbers), dtype=np.int32)
        rank[order] = np.arange(len(numbers), dtype=np.int32)
        self.vocabulary = tuple(sorted(numbers))
        del numbers, order
        self.words = [np.sort(rank[w]) for w in words]
        self.titles = [tuple(sorted(rank[t].tolist())) for t in titles]
        del words, titles
        counts = np.zeros(len(self.vocabulary), dtype=np.intp)
        for w in self.words:
            counts[w] += 1  # a document lists each of its words once
        self.idf = _idf(counts, len(self.words))
        self.totals = [float(self.idf[w].sum()) for w in self.words]
        n = len(self.words)
        rare = min(max(RARE_DOCUMENTS, n // RARE_SHARE), n * RARE_MOST)
        self.rare_words = frozenset(np.flatnonzero(counts <= rare).tolist())

    def number(self, word: str) -> int:
        """A word's number (the word must be one of the batch's)."""
        return bisect.bisect_left(self.vocabulary, word)

    def shared_rare_words(self, i: int, j: int) -> tuple[str, ...]:
        """The rare words both headlines carry: in a day's news, few items name
        "Kalanick", "EDP" or "T-Mobile", so two that do in their headlines very likely
        tell one event."""
        common = set(self.titles[i]).intersection(self.titles[j]) & self.rare_words
        return tuple(self.vocabulary[w] for w in sorted(common))

    def similarity(self, i: int, j: int) -> float:
        """0..1: IDF-weighted overlap of content words, with the headlines' overlap mixed in."""
        a, b = self.words[i], self.words[j]
        shared = float(self.idf[np.intersect1d(a, b, assume_unique=True)].sum())
        union = self.totals[i] + self.totals[j] - shared
        words = shared / union if union else 0.0
        return round(0.65 * words + 0.35 * _jaccard(self.titles[i], self.titles[j]), 4)


Words = npt.NDArray[np.int32]


class _Numbers(dict[str, int]):
    """word -> number, a new word getting the next number."""

    def __missing__(self, word: str) -> int:
        self[word] = number = len(self)
        return number


def _idf(counts: npt.NDArray[np.intp], n: int) -> npt.NDArray[np.float64]:
    """IDF by document frequency, with math.log (computed once per distinct frequency)."""
    frequencies, at = np.unique(counts, return_inverse=True)
    idf = [math.log((1 + n) / (1 + df)) + 1.0 for df in frequencies.tolist()]
    return np.array(idf, dtype=np.float64)[at]


def _jaccard(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    if not a or not b:
        return 0.0
    shared = len(set(a).intersection(b))
    return shared / (len(a) + len(b) - shared)
