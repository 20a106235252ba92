"""How a collect run shows itself: a live bar on a terminal, one plain line per feed
otherwise (cron, CI, pipes), and problems always as their own lines on stderr."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from digest.collect import FeedOutcome


def describe(outcome: FeedOutcome) -> str:
    where = outcome.url if outcome.name == outcome.url else f"{outcome.name} <{outcome.url}>"
    if outcome.status == "fetched":
        text = f"{where}: {outcome.new_items} new of {outcome.entries} entries"
    elif outcome.status == "not_modified":
        text = f"{where}: not modified"
    elif outcome.status == "failed":
        return f"failed: {where}: {outcome.message}"
    else:
        return f"skipped: {where}: {outcome.message}"
    return f"{text} ({outcome.message})" if outcome.message else text


class CollectDisplay:
    """Use as a context manager; pass `start` and `feed` as the collect callbacks."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.bar: Progress | None = None
        self.task = TaskID(0)
        self.new = 0
        self.failed = 0
        self.done = 0

    def __enter__(self) -> CollectDisplay:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.bar is not None:
            self.bar.stop()

    def start(self, total: int) -> None:
        if not self.live or total == 0:
            return
        bar = Progress(
            TextColumn("collecting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[new]} new, {task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(file=self.stream),
            transient=True,
        )
        self.task = bar.add_task("", total=total, new=0, failed=0)
        bar.start()
        self.bar = bar

    def feed(self, outcome: FeedOutcome) -> None:
        self.done += 1
        self.new += outcome.new_items
        self.failed += outcome.status == "failed"
        problem = outcome.status in ("failed", "skipped")
        if self.bar is None:
            click.echo(describe(outcome), file=self.stream)
            return
        if problem or outcome.message:
            self.bar.console.print(describe(outcome), markup=False, highlight=False)
        self.bar.update(
            self.task, advance=1, new=self.new, failed=self.failed, description=outcome.name
        )
