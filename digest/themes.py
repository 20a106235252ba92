"""Put every story under exactly one theme from the config's taxonomy.

Each theme's key terms are counted in the headline (weighted most), the blurb
and the body. Among the themes that score close to the best, the one listed
first in config wins: the taxonomy lists specific themes before broad ones, so a
deepfake story is deepfakes, not generic AI. A theme the headline names needs
less support from the body than one it doesn't. A story no theme claims goes to
the catch-all, whose name says so.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from digest.models import Note, Story, Theme, ThemeScore
from digest.similarity import content_words

TITLE_WEIGHT = 3.0
SUMMARY_WEIGHT = 2.0
BODY_WEIGHT = 0.5
BODY_HITS_CAP = 12
MIN_SCORE = 2.0
CLOSE_TO_BEST = 0.5
HEADLINE_BAR = 0.25  # a theme named in the headline needs less of the body to win
HINT_BONUS = 2.0


def assign(story: Story, themes: tuple[Theme, ...], catch_all: Theme) -> Story:
    scored = [(_score(story, theme), _count(theme.terms, story.title)) for theme in themes]
    best = max((s.score for s, _ in scored), default=0.0)
    winner = catch_all.key
    for s, in_title in scored:
        bar = HEADLINE_BAR if in_title else CLOSE_TO_BEST
        if s.score >= max(MIN_SCORE, bar * best):
            winner = s.theme
            break
    scores = [s for s, _ in scored]
    ranked = tuple(sorted((s for s in scores if s.score > 0), key=lambda s: (-s.score, s.theme)))
    return replace(story, theme=winner, theme_scores=ranked)


def _score(story: Story, theme: Theme) -> ThemeScore:
    title = _count(theme.terms, story.title)
    summary = _count(theme.terms, story.summary)
    body_text = " ".join(
        [item.text for item in story.items] + [link.text for link in story.related]
    )
    body = _count(theme.terms, " ".join(body_text.split()[:1500]))
    score = (
        TITLE_WEIGHT * sum(title.values())
        + SUMMARY_WEIGHT * sum(summary.values())
        + BODY_WEIGHT * min(BODY_HITS_CAP, sum(body.values()))
    )
    if any(item.theme_hint == theme.key for item in story.items):
        score += HINT_BONUS
    terms = tuple(sorted(set(title) | set(summary) | set(body)))
    return ThemeScore(theme=theme.key, score=round(score, 2), terms=terms)


def _count(terms: tuple[str, ...], text: str) -> dict[str, int]:
    hits = {}
    for term in terms:
        n = len(_pattern(term).findall(text))
        if n:
            hits[term] = n
    return hits


@lru_cache(maxsize=4096)
def _pattern(term: str) -> re.Pattern[str]:
    """A term matches as a whole word or phrase, plural or not; all-caps terms match case."""
    words = [re.escape(w) for w in term.split()]
    body = r"[\s-]+".join(words)
    flags = 0 if term.isupper() else re.IGNORECASE
    return re.compile(rf"(?<!\w){body}(?:s|es)?(?!\w)", flags)


def suggest_themes(unthemed: list[Story], themes: tuple[Theme, ...]) -> tuple[Note, ...]:
    """Recurring topics among the stories no theme claimed, as candidate new themes.

    A term shared by at least two unthemed headlines or blurbs (and not already a
    theme's term) is a candidate; terms shared by the same stories are one topic.
    """
    known = {w for theme in themes for term in theme.terms for w in content_words(term)}
    stories_by_term: dict[str, set[str]] = {}
    titles = {s.id: s.title for s in unthemed}
    for story in unthemed:
        for word in set(content_words(f"{story.title} {story.summary}")) - known:
            if not word.isdigit():
                stories_by_term.setdefault(word, set()).add(story.id)
    topics: dict[frozenset[str], list[str]] = {}
    for term, ids in sorted(stories_by_term.items()):
        if len(ids) >= 2:
            topics.setdefault(frozenset(ids), []).append(term)
    ranked = sorted(topics.items(), key=lambda t: (-len(t[0]), -len(t[1]), sorted(t[1])))
    notes = []
    for members, terms in ranked[:3]:
        examples = "; ".join(sorted(titles[i] for i in members)[:3])
        notes.append(
            Note(
                "themes",
                ", ".join(sorted(members)),
                f"suggested new theme with terms {', '.join(terms[:6])}: "
                f"{len(members)} unthemed stories share them ({examples})",
            )
        )
    return tuple(notes)
