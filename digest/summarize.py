"""Blurbs: two or three sentences from an item's own words, never cut mid-word.

Readers decide from the blurb whether to click, so it must stand on its own: no
boilerplate, no bylines, no sentence that leans on a missing picture, and no
lead-in that ends in a colon with nothing after it, and no sentence a feed's
excerpt cut off ("As sales rise, BYD...") or fragment without a full stop (a
paper's title, a label) unless there is nothing else.
"""

from __future__ import annotations

import re

from digest.models import Block, Item
from digest.text import is_boilerplate, sentences, truncate_words, word_count

MAX_WORDS = 60
MAX_SENTENCES = 3
MIN_CLAUSE_WORDS = 6
# "As sales rise, BYD...", "… the company said […]": an excerpt the publisher cut short.
_CUT = re.compile(r"(?:\.\.\.|…|\[(?:\.\.\.|…)\])\W*$")
# Words that open a clause that is not a sentence on its own ("When …", "Cuando …").
_LEAD_IN = re.compile(
    r"(?i)(when|while|if|as|although|though|because|since|after|before|until|during|"
    r"cuando|si|mientras|aunque|durante|porque|quando|enquanto|embora|"
    r"wenn|als|obwohl|während|weil|quand|lorsque|pendant)\b"
)
# A sentence ends as prose does; a paper's title or a section label in a feed's text
# ("SCANet: Correcting LEGO Assembly Errors") does not, and reads as a fragment.
_ENDED = re.compile(r"[.!?。！？][\"”’)\]]*$")


def blurb(item: Item, max_words: int = MAX_WORDS, max_sentences: int = MAX_SENTENCES) -> str:
    chosen: list[str] = []
    cut: list[str] = []
    fragments: list[str] = []
    words = 0
    title = _plain(item.title)
    for paragraph in _prose(item.blocks):
        said = sentences(paragraph)
        for sentence in said:
            if not _usable(sentence) or _plain(sentence) == title:
                continue
            if _CUT.search(sentence):  # the feed's excerpt stops mid-sentence
                cut.append(sentence)
                continue
            if len(said) == 1 and not _ENDED.search(sentence):  # a line of its own, unended:
                fragments.append(sentence)  # a headline, a standfirst or a label, not prose
                continue
            n = word_count(sentence)
            if chosen and words + n > max_words:
                return " ".join(chosen)
            if not chosen and n > max_words:
                return truncate_words(sentence, max_words)
            chosen.append(sentence)
            words += n
            if len(chosen) >= max_sentences:
                return " ".join(chosen)
    if not chosen and cut:  # all there is: the publisher's cut, back to its last whole clause
        return truncate_words(_whole_clauses(cut[0]), max_words)
    if not chosen and fragments:  # a feed whose summary is one unpunctuated line
        return truncate_words(fragments[0], max_words)
    return " ".join(chosen)


def _whole_clauses(sentence: str) -> str:
    """A sentence cut short, back to the clause before the cut: "Sales hit a record in
    March, helping push Hyundai to..." reads "Sales hit a record in March." Left as
    it is when too little would remain."""
    text = _CUT.sub("", sentence).rstrip()
    stop = max(text.rfind(mark) for mark in (",", ";", " –", " —", ":"))
    head = text[:stop].rstrip(" ,;:–—")
    if (
        stop < 0
        or word_count(head) < MIN_CLAUSE_WORDS
        or head.count("(") != head.count(")")  # "… Estados Unidos (DHS" is no sentence
        or _LEAD_IN.match(head)  # "When Musk was in Davos" waits for its main clause
    ):
        return sentence
    return head + "."


def _plain(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _usable(sentence: str) -> bool:
    if word_count(sentence) < 3 or sentence.endswith(":"):
        return False
    return not is_boilerplate(sentence)


def _prose(blocks: tuple[Block, ...]) -> list[str]:
    """Paragraph texts, with a short list folded into the sentence that introduces it."""
    out: list[str] = []
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if block.kind == "heading":
            i += 1
            continue
        if block.kind == "paragraph" and block.text.endswith(":"):
            items = []
            j = i + 1
            while j < len(blocks) and blocks[j].kind == "list_item":
                items.append(blocks[j].text.rstrip("."))
                j += 1
            if 0 < len(items) <= 4 and all(word_count(t) <= 20 for t in items):
                out.append(block.text[:-1] + ": " + _join(items) + ".")
                i = j
                continue
        if block.kind != "list_item":
            out.append(block.text)
        i += 1
    return out


def _join(parts: list[str]) -> str:
    parts = [_lower_first(p) for p in parts]
    if len(parts) == 1:
        return parts[0]
    return "; ".join(parts[:-1]) + "; and " + parts[-1]


def _lower_first(text: str) -> str:
    """Lower-case an ordinary capitalised first word, leave names and acronyms alone."""
    first = text.split(" ", 1)[0]
    if re.fullmatch(r"[A-Z][a-z]+", first) and first not in {"I"}:
        return first.lower() + text[len(first) :]
    return text
