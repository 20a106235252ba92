"""Put every story under exactly one theme from the config's taxonomy.

Three signals, each explained in each story's `theme_scores`:

1. Key terms. Each theme's terms are counted in the headline and in the tags the
   source filed the story under (weighted most), the blurb and the body; a word
   counts once for a theme however many of its terms match it. Among the themes
   that score close to the best, the one listed first in config wins: the
   taxonomy lists specific themes before broad ones, so a deepfake story is
   deepfakes, not generic AI. A theme the headline names needs less support from
   the body than one it doesn't.
2. What the day's stories teach. Stories the terms place with confidence, plus
   each theme's own description and terms, give every theme a profile of
   IDF-weighted content words; the stories no term claims at all make a profile
   of the catch-all. A story no term places is compared with those profiles and
   joins the closest theme when it is clearly close, and closer than the catch-all's
   (so general words alone place no story). So a story about
   "protein folding in plant cells" can join biotech on the strength of the
   day's other biotech stories, though no biotech term appears in it.
3. Where it comes from. Outlets specialise: when most of a source's stories sit
   firmly under one theme, its close calls go that way (an AI lab's post
   that mentions drug discovery is still AI), and so do its stories that neither
   terms nor profiles place. A theme that narrows a broader one (`within`) keeps
   its stories: a deepfake story from an AI outlet stays deepfakes. And when
   most of a source's stories fit no theme at all (a programming blog), its
   stories that the terms place only weakly stay in the catch-all too.

A story no signal places goes to the catch-all, whose name says so; and
recurring topics among those are reported as suggested new themes.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from digest.models import Note, PublishedStory, Story, Theme, ThemeScore
from digest.similarity import content_words

TITLE_WEIGHT = 3.0
TAG_WEIGHT = 3.0  # the source's own section or topic tags weigh as the headline does
SUMMARY_WEIGHT = 2.0
BODY_WEIGHT = 0.5
BODY_HITS_CAP = 12
BODY_WORDS = 400  # the lead of a story says what it is about
LEAD_WORDS = 60  # scored like a blurb: what the story opens with
MIN_SCORE = 3.0
CLOSE_TO_BEST = 0.5
HEADLINE_BAR = 0.25  # a theme named in the headline needs less of the body to win
HINT_BONUS = 2.0
CONFIDENT = 4.0  # a term score this high teaches the theme's profile
LEARNED_MIN = 0.08  # cosine similarity to a profile needed to join it
LEARNED_MARGIN = 1.25  # ... and this many times closer than the next theme
PROFILE_WORDS = 60
UNPLACED = 1.0  # a term score below this: a story no theme's terms claim at all
COMMON_SHARE = 0.1  # words in more than this share of the day's stories are not profiled
SOURCE_STORIES = 3  # confident stories a source needs before it is said to lean
SOURCE_SHARE = 0.6  # ... and the share of all its stories they make up
LEAN_BAR = 0.5  # a close call: the source's theme scores at least this share of the best
LEANING_DAYS = 30  # the issues whose stories show an outlet's leaning, besides today's
GENERAL_SHARE = 0.7  # a source this much of whose stories no theme claims: weak calls stay out
TOPIC_TERMS = 2  # a suggested theme: words that mostly the same unthemed stories share


_TOKEN = re.compile(r"\w+")

Entry = tuple[str, str]  # (theme key, term as written in config)


class TermIndex:
    """Every theme's terms in one index, so scoring a text is one pass over its words
    (not one regular-expression scan per term): single words and acronyms by lookup,
    phrases by their first word, `prefix*` terms by their first three letters.

    A single-word term written with a capital letter is a name and matches only words
    written with one: "Surface", "Lucid", "Handy*" and "Mars" are not "surface",
    "lucid", "handy" and "mars". Acronyms match case for case. `any_case` turns both
    off, for tags, whose case says nothing."""

    def __init__(self, themes: tuple[Theme, ...], any_case: bool = False) -> None:
        self.words: dict[str, list[Entry]] = {}
        self.names: dict[str, list[Entry]] = {}
        self.acronyms: dict[str, list[Entry]] = {}
        self.phrases: dict[str, list[tuple[tuple[str, ...], bool, Entry]]] = {}
        self.prefixes: dict[str, list[tuple[str, Entry]]] = {}
        self.name_prefixes: dict[str, list[tuple[str, Entry]]] = {}
        for theme in themes:
            for term in theme.terms:
                entry = (theme.key, term)
                prefix = term.endswith("*")
                body = term.rstrip("*")
                if body.isupper() and not prefix and not any_case:
                    for form in _plurals(body.replace(" ", "")):
                        self.acronyms.setdefault(form, []).append(entry)
                    continue
                parts = tuple(w.lower() for w in _TOKEN.findall(body))
                if not parts:
                    continue
                named = body[:1].isupper() and not any_case
                if len(parts) > 1:
                    self.phrases.setdefault(parts[0], []).append((parts, prefix, entry))
                elif prefix:
                    stems = self.name_prefixes if named else self.prefixes
                    stems.setdefault(parts[0][:3], []).append((parts[0], entry))
                else:
                    for form in _plurals(parts[0]):
                        (self.names if named else self.words).setdefault(form, []).append(entry)

    @classmethod
    def for_tags(cls, themes: tuple[Theme, ...]) -> TermIndex:
        """Terms, plus each theme's key and the parts of its name: a feed's "Space" or
        "Policy" section is the theme of that name even if no term says so."""
        named = []
        for theme in themes:
            parts = [p.strip() for p in re.split(r"&|,|\band\b", theme.name) if p.strip()]
            extra: dict[str, str] = {term.lower(): term for term in theme.terms}
            for word in (*parts, theme.key):
                extra.setdefault(word.lower(), word)  # once, however it is spelled
            named.append(replace(theme, terms=tuple(extra.values())))
        return cls(tuple(named), any_case=True)

    def hits(self, text: str) -> dict[str, Counter[str]]:
        """theme key -> term -> how often it occurs in the text."""
        found: dict[str, Counter[str]] = {}
        tokens = _TOKEN.findall(text)
        low = [t.lower() for t in tokens]
        low_counts = Counter(low)
        name_counts = Counter(t.lower() for t in tokens if t[:1].isupper())

        counted: set[tuple[str, str]] = set()

        def add(entries: Iterable[Entry], n: int, word: str | None = None) -> None:
            for key, term in entries:
                if word is not None:  # a word counts once for a theme however many terms
                    if (key, word) in counted:  # match it ("military", "militar*")
                        continue
                    counted.add((key, word))
                found.setdefault(key, Counter())[term] += n

        for token in self.acronyms.keys() & set(tokens):
            add(self.acronyms[token], tokens.count(token), token.lower())
        for counts, words, prefixes in (
            (low_counts, self.words, self.prefixes),
            (name_counts, self.names, self.name_prefixes),
        ):
            for word in counts.keys() & words.keys():
                add(words[word], counts[word], word)
            for word in [w for w in counts if w[:3] in prefixes]:
                for stem, entry in prefixes[word[:3]]:
                    if word.startswith(stem):
                        add((entry,), counts[word], word)
        starts = low_counts.keys() & self.phrases.keys()
        if starts:
            for i, word in enumerate(low):
                if word in starts:
                    add(
                        (
                            e
                            for parts, pre, e in self.phrases[word]
                            if _phrase_at(low, i, parts, pre)
                        ),
                        1,
                    )
        return found


def _plurals(word: str) -> tuple[str, ...]:
    return (word, word + "s", word + "es")


def _phrase_at(words: list[str], i: int, parts: tuple[str, ...], prefix: bool) -> bool:
    end = i + len(parts)
    if end > len(words):
        return False
    for k, part in enumerate(parts):
        word = words[i + k]
        last = k == len(parts) - 1
        if last and prefix:
            if not word.startswith(part):
                return False
        elif word != part and not (last and word in (part + "s", part + "es")):
            return False
    return True


@dataclass(frozen=True)
class _Scored:
    story: Story
    scores: tuple[ThemeScore, ...]
    winner: str
    best: float


def assign_all(
    stories: list[Story],
    themes: tuple[Theme, ...],
    catch_all: Theme,
    past: Iterable[PublishedStory] = (),
) -> list[Story]:
    """Every story under one theme: by its terms (its outlet's leaning settling close
    calls), else by the profiles the day taught, else by its outlet's leaning.

    An outlet's leaning counts its stories in `past` (the recent issues) too: a lab
    that posts once a day never has three stories in one day's batch, but a month of
    issues shows what it writes about."""
    index, tag_index = TermIndex(themes), TermIndex.for_tags(themes)
    scored = [_by_terms(story, themes, index, tag_index, catch_all) for story in stories]
    words = [_story_words(s.story) for s in scored]
    profiles, unthemed = _profiles(scored, words, themes, catch_all)
    by_word: dict[str, list[tuple[str, float]]] = {}
    for key, profile in profiles.items():
        for word, value in profile.items():
            by_word.setdefault(word, []).append((key, value))
    leanings, general = _source_leanings(scored, catch_all, past)
    broader = {theme.key: theme.within for theme in themes}
    out = []
    for s, story_words in zip(scored, words, strict=True):
        story = replace(s.story, theme=s.winner, theme_scores=s.scores)
        if s.winner != catch_all.key:
            story = _close_call(story, s.best, leanings, broader) or story
            if story.theme == s.winner and s.best < CONFIDENT:
                story = _kept_general(story, general, leanings) or story
        else:
            others = unthemed.similarity(story_words, taught=s.best < UNPLACED)
            placed = _by_profile(
                story, story_words, by_word, list(profiles), (catch_all.key, others)
            )
            story = placed or _by_source(story, leanings) or story
        out.append(story)
    return out


def assign(
    story: Story, themes: tuple[Theme, ...], catch_all: Theme, min_score: float = MIN_SCORE
) -> Story:
    """One story by its terms alone."""
    s = _by_terms(
        story, themes, TermIndex(themes), TermIndex.for_tags(themes), catch_all, min_score
    )
    return replace(story, theme=s.winner, theme_scores=s.scores)


def firm_theme(story: Story) -> str:
    """The theme a themed story's own terms gave it with confidence, or "": what an
    issue's history keeps of its stories' themes, for the outlets' leanings. A story
    placed by a leaning, a profile or a weak score is left out, so that a leaning
    never feeds on itself."""
    best = story.theme_scores[0] if story.theme_scores else None
    if best is None or best.method != "key terms" or best.score < CONFIDENT:
        return ""
    return story.theme


def _by_terms(
    story: Story,
    themes: tuple[Theme, ...],
    index: TermIndex,
    tag_index: TermIndex,
    catch_all: Theme,
    min_score: float = MIN_SCORE,
) -> _Scored:
    body_text = " ".join([item.text for item in story.items] + [r.text for r in story.related])
    body_text = " ".join(body_text.split()[:BODY_WORDS])
    lead = _lead(story)
    title_hits, summary_hits, body_hits = (index.hits(t) for t in (story.title, lead, body_text))
    # each tag once however many items carry it; a separator keeps tags from joining
    tags = dict.fromkeys(tag.lower() for item in story.items for tag in item.tags)
    tag_hits = tag_index.hits(" ; ".join(tags)) if tags else {}
    scored = []
    none: Counter[str] = Counter()
    for theme in themes:
        title = title_hits.get(theme.key, none)
        summary = summary_hits.get(theme.key, none)
        body = body_hits.get(theme.key, none)
        tagged = tag_hits.get(theme.key, none)
        score = (
            TITLE_WEIGHT * sum(title.values())
            + TAG_WEIGHT * sum(tagged.values())
            + SUMMARY_WEIGHT * sum(summary.values())
            + BODY_WEIGHT * min(BODY_HITS_CAP, sum(body.values()))
        )
        if any(item.theme_hint == theme.key for item in story.items):
            score += HINT_BONUS
        terms = tuple(sorted(set(title) | set(summary) | set(body) | {f"tag: {t}" for t in tagged}))
        scored.append((ThemeScore(theme.key, round(score, 2), terms), bool(title)))
    best = max((s.score for s, _ in scored), default=0.0)
    winner = catch_all.key
    for s, in_title in scored:
        bar = HEADLINE_BAR if in_title else CLOSE_TO_BEST
        if s.score >= max(min_score, bar * best):
            winner = s.theme
            break
    ranked = tuple(sorted((s for s, _ in scored if s.score > 0), key=lambda s: (-s.score, s.theme)))
    return _Scored(story, ranked, winner, best)


def _lead(story: Story) -> str:
    """The blurb when assemble has written it, else the opening words of the lead item."""
    return story.summary or " ".join(story.items[0].text.split()[:LEAD_WORDS])


def _story_words(story: Story) -> Counter[str]:
    """The words a profile is made of: the headline (twice) and the first items' leads.
    Interned, as every story's words are kept until all are themed: one copy of each."""
    leads = [i.text[:1000] for i in story.items[:3]]
    return Counter(map(sys.intern, content_words(" ".join([story.title, story.title, *leads]))))


@dataclass(frozen=True)
class _Unthemed:
    """The profile of the day's stories no term claims at all, against which a story must
    look more like a theme than like those to be placed. Without it, a story of everyday
    words ("software", "people", "use") joined whichever theme's profile held most of them.

    Kept unnormalised, with each word's IDF, because the stories it is compared with are
    among those it was made from: each is compared with the profile of the others (its own
    words taken out), or every one of them would look most like itself."""

    weights: dict[str, float]
    idf: dict[str, float]
    norm_sq: float  # of `weights`, computed once

    def similarity(self, words: Counter[str], taught: bool) -> float:
        """Cosine similarity of a story's words to the profile (less the story's own
        words when it `taught` the profile)."""
        norm_sq = self.norm_sq
        dot = 0.0
        for word in words.keys() & self.weights.keys():
            weight, value = _tf(words[word]), self.weights[word]
            if taught:
                own = weight * self.idf[word]
                norm_sq -= 2 * value * own - own * own
                value -= own
            dot += weight * value
        story_norm = math.sqrt(sum(_tf(c) ** 2 for c in words.values()))
        if norm_sq <= 1e-12 or not story_norm:
            return 0.0
        return dot / (math.sqrt(norm_sq) * story_norm)


def _profiles(
    scored: list[_Scored], words: list[Counter[str]], themes: tuple[Theme, ...], catch_all: Theme
) -> tuple[dict[str, dict[str, float]], _Unthemed]:
    """Each theme's profile: unit vector of IDF-weighted words from its confident stories
    and its own description and terms; and the catch-all's, from the stories no term
    claims at all."""
    docs = [(s.winner, w) for s, w in zip(scored, words, strict=True)]
    df: Counter[str] = Counter()
    for _, counts in docs:
        df.update(counts.keys())
    n = len(docs)

    by_frequency = {k: math.log((1 + n) / (1 + k)) + 1.0 for k in {0, *df.values()}}

    def idf(word: str) -> float:
        return by_frequency[df.get(word, 0)]  # one logarithm per distinct frequency

    common = {w for w, k in df.items() if n >= 20 and k > COMMON_SHARE * n}

    profiles: dict[str, dict[str, float]] = {}
    for theme in (*themes, catch_all):
        vector: dict[str, float] = {}
        seed = " ".join([theme.name, theme.description, *(t.rstrip("*") for t in theme.terms)])
        for word in content_words(seed) if theme is not catch_all else []:
            vector[word] = vector.get(word, 0.0) + 2.0 * idf(word)
        for s, (winner, counts) in zip(scored, docs, strict=True):
            if _teaches(s, winner, theme, catch_all):
                for word, count in counts.items():
                    if word in common:
                        continue  # words every story uses teach nothing about a theme
                    vector[word] = vector.get(word, 0.0) + _tf(count) * idf(word)
        top = dict(sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[: PROFILE_WORDS * 10])
        if theme is catch_all:
            norm_sq = sum(v * v for v in top.values())
            return profiles, _Unthemed(top, {w: idf(w) for w in top}, norm_sq)
        norm = math.sqrt(sum(v * v for v in top.values())) or 1.0
        profiles[theme.key] = {w: v / norm for w, v in top.items()}
    raise AssertionError("the catch-all comes last")


def _teaches(s: _Scored, winner: str, theme: Theme, catch_all: Theme) -> bool:
    """A story teaches a theme's profile when its terms place it there with confidence,
    and the catch-all's when no theme's terms claim it at all."""
    if theme is catch_all:
        return s.best < UNPLACED
    return winner == theme.key and s.best >= CONFIDENT


def _tf(count: int) -> float:
    """A word's weight in a story: dampened, as its fifth use says less than its first."""
    return 1.0 if count == 1 else 1 + math.log(count)


def _by_profile(
    story: Story,
    words: Counter[str],
    by_word: dict[str, list[tuple[str, float]]],
    keys: list[str],
    unthemed: tuple[str, float],
) -> Story | None:
    """The theme whose profile the story's words are clearly closest to, if it is one
    (`unthemed`: the catch-all's key and the story's similarity to its profile)."""
    dots: dict[str, float] = dict.fromkeys(keys, 0.0)
    shared: dict[str, list[tuple[float, str]]] = {key: [] for key in keys}
    norm = 0.0
    for count in words.values():
        weight = _tf(count)
        norm += weight * weight
    for word in sorted(words.keys() & by_word.keys()):  # most words are in no profile
        weight = _tf(words[word])
        for key, value in by_word[word]:
            dots[key] += weight * value
            shared[key].append((value, word))
    norm = math.sqrt(norm) or 1.0
    sims = [(dot / norm, key) for key, dot in dots.items()] + [(unthemed[1], unthemed[0])]
    sims.sort(key=lambda s: (-s[0], s[1]))
    best, runner_up = sims[0], (sims[1] if len(sims) > 1 else (0.0, ""))
    if best[1] == unthemed[0]:
        return None  # closest to the day's unthemed stories: it stays with them
    if best[0] < LEARNED_MIN or best[0] < LEARNED_MARGIN * runner_up[0]:
        return None
    terms = tuple(w for _, w in sorted(shared[best[1]], key=lambda vw: (-vw[0], vw[1]))[:6])
    learned = ThemeScore(best[1], round(best[0], 3), terms, method="learned profile")
    return replace(story, theme=best[1], theme_scores=(learned, *story.theme_scores))


@dataclass(frozen=True)
class _Leaning:
    """Most of a source's stories sit firmly under one theme: `share` of them."""

    source: str
    theme: str
    share: float


def _source_leanings(
    scored: list[_Scored], catch_all: Theme, past: Iterable[PublishedStory] = ()
) -> tuple[dict[str, _Leaning], dict[str, _Leaning]]:
    """source -> its leaning: a source most of whose stories (today's and those of
    `past`) its terms place firmly under one theme; and source -> its leaning to the
    catch-all: a source most of whose stories today no theme claims (a programming
    blog, a paper's culture desk)."""
    counts: dict[str, Counter[str]] = {}
    stories: Counter[str] = Counter()
    earlier: Counter[str] = Counter()
    unplaced: Counter[str] = Counter()
    for s in scored:
        for source in {item.source for item in s.story.items if item.source}:
            stories[source] += 1
            unplaced[source] += s.winner == catch_all.key
            if s.winner != catch_all.key and s.best >= CONFIDENT:
                counts.setdefault(source, Counter())[s.winner] += 1
    for story in past:
        for source in story.outlets:
            earlier[source] += 1
            if story.theme:
                counts.setdefault(source, Counter())[story.theme] += 1
    leanings = {}
    for source, themes in counts.items():
        theme, n = min(themes.items(), key=lambda kv: (-kv[1], kv[0]))
        share = n / (stories[source] + earlier[source])  # a general outlet leans nowhere
        if n >= SOURCE_STORIES and share >= SOURCE_SHARE:
            leanings[source] = _Leaning(source, theme, round(share, 3))
    general = {
        source: _Leaning(source, catch_all.key, round(unplaced[source] / n, 3))
        for source, n in sorted(stories.items())
        if n >= SOURCE_STORIES and unplaced[source] / n >= GENERAL_SHARE
    }
    return leanings, general


def _kept_general(
    story: Story, general: dict[str, _Leaning], leanings: dict[str, _Leaning]
) -> Story | None:
    """A story its terms place only weakly, from a source that mostly writes about what
    no theme covers, stays in the catch-all: a Swift blog's post that mentions the
    iPhone is about programming, not devices. A source that leans to a theme decides
    its stories itself."""
    if _leaning(story, leanings) is not None:
        return None
    lean = _leaning(story, general)
    if lean is None:
        return None
    return _placed_by(story, lean)


def _leaning(story: Story, leanings: dict[str, _Leaning]) -> _Leaning | None:
    """The strongest leaning among the story's sources."""
    found = [leanings[i.source] for i in story.items if i.source in leanings]
    return max(found, key=lambda lean: (lean.share, lean.theme, lean.source), default=None)


def _close_call(
    story: Story, best: float, leanings: dict[str, _Leaning], broader: dict[str, str | None]
) -> Story | None:
    """A story whose terms put its source's theme close to the winner goes that way,
    unless it won a theme narrower than the source's (deepfakes within AI)."""
    lean = _leaning(story, leanings)
    if lean is None or lean.theme == story.theme or broader.get(story.theme) == lean.theme:
        return None
    score = next((t.score for t in story.theme_scores if t.theme == lean.theme), 0.0)
    if score < max(MIN_SCORE, LEAN_BAR * best):
        return None
    return _placed_by(story, lean)


def _by_source(story: Story, leanings: dict[str, _Leaning]) -> Story | None:
    lean = _leaning(story, leanings)
    return _placed_by(story, lean) if lean else None


def _placed_by(story: Story, lean: _Leaning) -> Story:
    why = ThemeScore(lean.theme, lean.share, (lean.source,), method="source")
    return replace(story, theme=lean.theme, theme_scores=(why, *story.theme_scores))


def suggest_themes(unthemed: list[Story], themes: tuple[Theme, ...]) -> tuple[Note, ...]:
    """Recurring topics among the stories no theme claimed, as candidate new themes.

    A term shared by at least two unthemed headlines or blurbs (and not already a
    theme's term, nor a word of an outlet's name: "TechCrunch", "Rest of World") is a
    candidate; terms shared by mostly the same stories are one topic, and a topic
    needs two terms at least: one word in common ("director", "team") is a
    coincidence more often than a subject.
    """
    known = {w for theme in themes for term in theme.terms for w in content_words(term)}
    known |= {w for s in unthemed for ref in s.sources for w in content_words(ref.name)}
    stories_by_term: dict[str, set[str]] = {}
    titles = {s.id: s.title for s in unthemed}
    for story in unthemed:
        lead = _lead(story)
        for word in set(content_words(f"{story.title} {lead}")) - known:
            if not word.isdigit():
                stories_by_term.setdefault(word, set()).add(story.id)
    shared = {t: ids for t, ids in stories_by_term.items() if len(ids) >= 2}
    topics: list[tuple[frozenset[str], list[str]]] = []
    for term in sorted(shared, key=lambda t: (-len(shared[t]), t)):
        ids = shared[term]
        for members, words in topics:  # mostly the same stories: the same topic
            if 2 * len(ids & members) >= max(len(ids), len(members)):
                words.append(term)
                break
        else:
            topics.append((frozenset(ids), [term]))
    ranked = sorted(
        ((m, t) for m, t in topics if len(t) >= TOPIC_TERMS),
        key=lambda t: (-len(t[0]), -len(t[1]), t[1]),
    )
    notes: list[Note] = []
    told: set[str] = set()
    for members, terms in ranked:
        if len(notes) == 3:
            break
        if 2 * len(members & told) >= len(members):
            continue  # mostly the stories of a topic already suggested
        told |= members
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
