"""The issue as data (digest.json): for archives, the preview and other tools.

Stable order and no timestamps, so that a rebuilt issue is byte-identical. Each
story says why it sits where it does: its theme scores and, for every merged
item, how it was matched to the story's lead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from digest.models import Issue, Item, Link, Match, Note, Story, Theme, ThemeScore


def issue_to_json(issue: Issue) -> str:
    """The issue as data, for archives and other tools; stable order, no timestamps."""
    data = {
        "date": issue.date.isoformat(),
        "newsletter": issue.newsletter,
        "title": issue.title,
        "subject": issue.subject,
        "lead": issue.lead.id if issue.lead is not None else None,
        "sections": [
            {"theme": _theme_json(s.theme), "stories": [_story_json(st) for st in s.stories]}
            for s in issue.sections
        ],
        "must_reads": [s.id for s in issue.must_reads],
        "quote": None if issue.quote is None else _quote_json(issue),
        "report": {
            "corrections": _notes_json(issue.report.corrections),
            "dropped": _notes_json(issue.report.dropped),
            "merged": _notes_json(issue.report.merged),
            "warnings": _notes_json(issue.report.warnings),
            "suggestions": _notes_json(issue.report.suggestions),
        },
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _theme_json(theme: Theme) -> dict[str, str]:
    return {"key": theme.key, "name": theme.name}


def _quote_json(issue: Issue) -> dict[str, str | None]:
    assert issue.quote is not None
    q = issue.quote
    return {"text": q.text, "attribution": q.attribution, "source": q.source, "url": q.url}


def _story_json(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        "title": story.title,
        "url": story.url,
        "source": story.source,
        "published": story.published.isoformat() if story.published else None,
        "summary": story.summary,
        "kind": story.kind,
        "theme": story.theme,
        "rank": story.rank,
        "theme_scores": [_score_json(t) for t in story.theme_scores],
        "sources": [{"name": s.name, "url": s.url, "via": s.via} for s in story.sources],
        "related": _links_json(story.related),
        "items": [_item_json(i) for i in story.items],
        "matches": [_match_json(m) for m in story.matches],
        "update_of": None
        if story.update_of is None
        else {
            "issue_date": story.update_of.issue_date.isoformat(),
            "story_id": story.update_of.story_id,
            "title": story.update_of.title,
        },
    }


def _match_json(match: Match) -> dict[str, Any]:
    return {"item": match.item_id, "reason": match.reason, "similarity": match.similarity}


def _score_json(score: ThemeScore) -> dict[str, Any]:
    return {
        "theme": score.theme,
        "score": score.score,
        "terms": list(score.terms),
        "method": score.method,
    }


def _links_json(links: Iterable[Link]) -> list[dict[str, str | None]]:
    return [{"text": link.text, "url": link.url, "source": link.source} for link in links]


def _item_json(item: Item) -> dict[str, str | None]:
    return {
        "id": item.id,
        "origin": item.origin,
        "title": item.title,
        "url": item.url,
        "source": item.source,
        "published": item.published.isoformat() if item.published else None,
        "kind": item.kind,
        "via": item.via,
        "author": item.author,
    }


def _notes_json(notes: Sequence[Note]) -> list[dict[str, str]]:
    return [{"stage": n.stage, "origin": n.origin, "message": n.message} for n in notes]
