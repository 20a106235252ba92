"""Live rebuilds for the preview: watch what an issue is made of, rebuild on change.

The rebuild is `digest.pipeline.build`, the very function the CLI and the
scheduler call, so what the preview shows is what would be sent. A failed
rebuild is kept as a `Problem` (with the template file and line when there is
one) for the pages to show; the last good files stay where they are.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import traceback
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2
import watchfiles

from digest.config import Config, ConfigError, load_config
from digest.pipeline import build
from digest.render import builtin_template_dir
from digest.store import Database, SQLiteHistory

EXCERPT_LINES = 2


@dataclass(frozen=True)
class Problem:
    """Why the last rebuild failed, worded for the editor: what, in which file, at which line."""

    message: str
    file: str | None = None
    line: int | None = None
    excerpt: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class BuildStatus:
    """What the pages say about the working issue; `version` bumps after every attempt."""

    version: int
    date: dt.date
    building: bool = False
    problem: Problem | None = None
    seconds: float | None = None


def today(config: Config) -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo(config.newsletter.timezone)).date()


def describe(exc: BaseException) -> Problem:
    """A failed build as the editor needs to see it: the message, the template and the line.

    Jinja syntax errors carry their file and line; errors raised while a template
    runs (an undefined variable) are found in the traceback, where Jinja puts the
    template's own file and line.
    """
    file: str | None = None
    line: int | None = None
    if isinstance(exc, jinja2.TemplateSyntaxError):
        file, line = exc.filename or exc.name, exc.lineno
        message = f"template syntax error: {exc.message}"
    elif isinstance(exc, ConfigError):
        message = f"config error: {exc}"
    else:
        message = f"{type(exc).__name__}: {exc}"
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
        if frames:
            file, line = frames[-1].filename, frames[-1].lineno
    return Problem(message=message, file=file, line=line, excerpt=_excerpt(file, line))


def _excerpt(file: str | None, line: int | None) -> tuple[tuple[int, str], ...]:
    if file is None or line is None:
        return ()
    try:
        lines = Path(file).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ()
    first = max(1, line - EXCERPT_LINES)
    last = min(len(lines), line + EXCERPT_LINES)
    return tuple((n, lines[n - 1]) for n in range(first, last + 1))


@dataclass(frozen=True)
class WatchPlan:
    """What an issue is made of: folders watched for events, single files checked by stat.

    Single files (the config, a one-file source) are compared by stat because
    editors often save by renaming a new file over the old, which a watch on the
    old file would miss.
    """

    folders: tuple[Path, ...]
    files: tuple[Path, ...]
    ignored: tuple[Path, ...]

    def signature(self) -> tuple[tuple[str, int, int, int] | None, ...]:
        out: list[tuple[str, int, int, int] | None] = []
        for path in self.files:
            try:
                st = path.stat()
            except OSError:
                out.append(None)
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)


def watch_plan(config: Config, out: Path) -> WatchPlan:
    """The template folders, the config file and every enabled local source."""
    folders = {builtin_template_dir().resolve()}
    if config.template_dir is not None:
        folders.add(config.template_dir.resolve())
    files = {config.file}
    for source in config.sources:
        if source.enabled and source.path is not None:
            if source.path.is_dir():
                folders.add(source.path.resolve())
            else:
                files.add(source.path)
    ignored = (out.resolve(), config.state_path.resolve())
    return WatchPlan(folders=tuple(sorted(folders)), files=tuple(sorted(files)), ignored=ignored)


class LiveBuilder:
    """Rebuilds the working issue on change and tells waiting pages when it has.

    The working issue is `date`, or today in the newsletter's time zone: issues
    already sent are left as they went out.
    """

    def __init__(
        self,
        config: Config,
        out: Path,
        date: dt.date | None = None,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.config = config
        self.out = out
        self.date = date
        self.say = say
        self._changed = threading.Condition()
        self._status = BuildStatus(version=0, date=date or today(config), building=True)
        self._closed = False

    @property
    def status(self) -> BuildStatus:
        with self._changed:
            return self._status

    def wait(self, version: int, timeout: float) -> BuildStatus:
        """The status once its version differs from `version`, or after `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._status.version != version or self._closed, timeout=timeout
            )
            return self._status

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def rebuild(self) -> BuildStatus:
        """Reload the config and build the working issue; a failure becomes a Problem."""
        with self._changed:
            self._status = replace(self._status, building=True)
        started = time.perf_counter()
        date = self._status.date
        problem: Problem | None = None
        try:
            config = load_config(self.config.file)
            date = self.date or today(config)
            database = Database(config.state_path)
            try:
                build(config, date, self.out, SQLiteHistory(database))
            finally:
                database.close()
            self.config = config
        except Exception as exc:  # the server must outlive any broken template or config
            problem = describe(exc)
        seconds = time.perf_counter() - started
        if problem is None:
            self.say(f"rebuilt the {date} issue in {seconds:.2f} s")
        else:
            where = f" ({problem.file}, line {problem.line})" if problem.file else ""
            self.say(f"rebuild failed: {problem.message}{where}")
        with self._changed:
            self._status = BuildStatus(
                version=self._status.version + 1,
                date=date,
                problem=problem,
                seconds=seconds,
            )
            self._changed.notify_all()
            return self._status

    def run(self, stop: threading.Event) -> None:
        """Build once, then rebuild after every change until `stop` is set."""
        self.rebuild()
        while not stop.is_set():
            plan = watch_plan(self.config, self.out)
            seen = plan.signature()
            changes_seen = watchfiles.watch(
                *plan.folders,
                watch_filter=watchfiles.DefaultFilter(ignore_paths=plan.ignored),
                stop_event=stop,
                step=50,
                rust_timeout=300,
                yield_on_timeout=True,
                raise_interrupt=False,
            )
            try:
                for changes in changes_seen:
                    now = plan.signature()
                    if not changes and now == seen:
                        continue
                    seen = now
                    self.rebuild()
                    if watch_plan(self.config, self.out) != plan:
                        break  # the config now names other folders: watch those instead
            except Exception as exc:  # a watched folder went away: watch again, never die
                self.say(f"watching stopped ({exc}); watching again")
                stop.wait(1.0)
