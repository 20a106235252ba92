"""Which collected feed items belong to the issue of a date.

The issue of date D takes feed items first seen up to the end of D (in the
newsletter's time zone) and no more than `window_days` before it, leaving out
entries the feed itself dates before the window. The first build of D records
how far collection had got (its cutoff); every rebuild of D reuses that cutoff,
so items collected afterwards never change an issue already built. Stories an
earlier issue carried are dropped later, by the history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from dataclasses import dataclass

from digest.config import Config
from digest.itemstore import ItemStore
from digest.models import Note, RawItem


@dataclass(frozen=True)
class Window:
    start: dt.datetime  # exclusive
    cutoff: dt.datetime  # inclusive


def issue_window(config: Config, date: dt.date, now: dt.datetime, store: ItemStore) -> Window:
    tz = zoneinfo.ZoneInfo(config.newsletter.timezone)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    cutoff = store.issue_cutoff(date) or min(now, end)
    return Window(start=end - dt.timedelta(days=config.build.window_days), cutoff=cutoff)


def feed_raws(config: Config, store: ItemStore, window: Window) -> tuple[list[RawItem], list[Note]]:
    """The raw items of enabled feeds in the window, in a stable order, with the
    current config's name, weight and theme for their source."""
    sources = {s.url: s for s in config.sources if s.enabled and s.url is not None}
    notes: list[Note] = []
    health = {h.url: h for h in store.health()}
    for url, source in sorted(sources.items()):
        known = health.get(url)
        if known is None or known.last_success is None:
            error = f" (last error: {known.last_error})" if known and known.last_error else ""
            notes.append(Note("read", url, f"{source.name}: nothing collected yet{error}"))
    raws = []
    for stored in store.items(sources, window.start, window.cutoff):
        if stored.published is not None and stored.published <= window.start:
            continue
        source = sources[stored.source_url]
        raws.append(
            dataclasses.replace(
                stored.raw,
                source_name=source.name,
                weight=source.weight,
                theme_hint=source.theme,
            )
        )
    return raws, notes
