"""How a collect run shows itself: a live bar on a terminal, one plain line per feed
otherwise (cron, CI, pipes), and problems always as their own lines on stderr.

rich is imported only when there is a terminal to draw the bar on. Plain lines are
written a batch at a time (at most a fifth of a second late): one write per feed
cost a thousand-feed run more than all its database work."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, TextIO, cast

from digest.collect import FeedOutcome

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


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
        self.task = cast("TaskID", 0)
        self.new = 0
        self.failed = 0
        self.done = 0
        self.lines: list[str] = []
        self.written = time.monotonic()

    def __enter__(self) -> CollectDisplay:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()
        if self.bar is not None:
            self.bar.stop()

    def flush(self) -> None:
        """Write the plain lines still waiting."""
        if self.lines:
            text, self.lines = "\n".join(self.lines) + "\n", []
            self.stream.write(text)
            self.stream.flush()
        self.written = time.monotonic()

    def start(self, total: int) -> None:
        if not self.live or total == 0:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

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
            self.lines.append(describe(outcome))
            if len(self.lines) >= 200 or time.monotonic() - self.written > 0.2:
                self.flush()
            return
        if problem or outcome.message:
            self.bar.console.print(describe(outcome), markup=False, highlight=False)
        self.bar.update(
            self.task, advance=1, new=self.new, failed=self.failed, description=outcome.name
        )
