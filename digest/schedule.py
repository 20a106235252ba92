"""What `digest schedule` runs and when: triggers from `[schedule]`, and the two jobs.

The triggers are APScheduler 3 triggers. The daily one is a cron trigger in a
named zone that fires at most once for any wall-clock time: when clocks go back,
a time that happens twice runs only the first time; when they go forward, a
time that never happens runs an hour later by the clock. So daylight-saving
changes never skip or double an issue.

The jobs call the same library functions as the commands (`digest.collect.collect`,
`digest.pipeline.build`, `digest.send.send_issue`) and reload the config on every
run, so a broken edit fails one run with a clear cause and a fix is picked up by
the next. They return a `RunResult`: one line for the log and counts for JSON.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.config import Config, load_config
from digest.interrupts import hold_interrupts

if TYPE_CHECKING:
    from digest.itemstore import ItemStore

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbers: 0 (and 7) = sun

COLLECT = "collect"
DAILY = "daily"


class CronError(ValueError):
    """A `build_cron` that cannot be a trigger, worded for the config error."""


@dataclass(frozen=True)
class JobSpec:
    """One job as config asks for it: its id, when it fires, and the function to run."""

    id: str
    func: str  # a textual reference, so the persistent job store can keep it
    trigger: BaseTrigger
    what: str  # how `--list` and `--status` describe it


@dataclass(frozen=True)
class RunResult:
    """What a run did; `stop` when a stop was asked for while it finished its last step."""

    ok: bool
    summary: str
    counts: dict[str, int] = field(default_factory=dict)
    stop: bool = False


class DailyCronTrigger(CronTrigger):  # type: ignore[misc]  # APScheduler 3 has no types
    """A cron trigger that never fires twice for one wall-clock time (see the module doc)."""

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        fire: dt.datetime | None = super().get_next_fire_time(previous_fire_time, now)
        for _ in range(3700):  # a repeated hour holds at most 3,600 times a second
            if fire is None or not _second_occurrence(fire, self.timezone):
                return fire
            fire = super().get_next_fire_time(fire, fire)
        return fire


def _second_occurrence(moment: dt.datetime, zone: dt.tzinfo) -> bool:
    """True when the wall-clock time of `moment` happened once already, an hour earlier."""
    wall = moment.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0)
    return first.astimezone(dt.UTC) != moment.astimezone(dt.UTC)


def daily_trigger(expression: str, timezone: str) -> DailyCronTrigger:
    """`minute hour day month weekday` (crontab), or with seconds first as a sixth field.

    Weekday numbers mean what they mean in crontab (0 and 7 are Sunday); APScheduler 3
    counts from Monday, so they are turned into names here.
    """
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise CronError(
            f"expected 5 fields (minute hour day month weekday), got {len(fields)} "
            f"in {expression!r}"
        )
    second, minute, hour, day, month, weekday = fields
    try:
        return DailyCronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=crontab_weekdays(weekday),
            timezone=zoneinfo.ZoneInfo(timezone),
        )
    except (ValueError, TypeError) as exc:
        raise CronError(f"not a valid cron expression {expression!r}: {exc}") from exc


def crontab_weekdays(text: str) -> str:
    """The crontab weekday field as APScheduler 3 weekday names: `1-5` -> `mon,...,fri`."""
    if text == "*":
        return "*"
    days: set[int] = set()
    for part in text.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else 0
        if step_text and not step:
            raise CronError(f"bad step in weekday {part!r}")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _weekday(start), _weekday(end)
        else:
            first = _weekday(base)
            last = 6 if step else first
        if first > last:
            raise CronError(f"weekday range {part!r} runs backwards")
        days.update(n % 7 for n in range(first, last + 1, step or 1))
    if len(days) == 7:
        return "*"
    return ",".join(WEEKDAYS[n] for n in sorted(days))


def _weekday(text: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text in WEEKDAYS:
        return WEEKDAYS.index(text)
    raise CronError(f"unknown weekday {text!r} (0-7 or sun-sat)")


def plan(config: Config, now: dt.datetime) -> list[JobSpec]:
    """The jobs `[schedule]` asks for, in a stable order; a new collect job first runs one
    interval after `now`."""
    settings = config.schedule
    zone = zoneinfo.ZoneInfo(settings.timezone)
    jobs: list[JobSpec] = []
    if settings.collect_every_minutes > 0:
        minutes = settings.collect_every_minutes
        jobs.append(
            JobSpec(
                id=COLLECT,
                func="digest.schedule:collect_job",
                trigger=IntervalTrigger(
                    seconds=minutes * 60,
                    start_date=now + dt.timedelta(minutes=minutes),
                    timezone=zone,
                ),
                what=f"collect the feeds every {minutes:g} minutes",
            )
        )
    if settings.build_cron:
        sends = "build and send" if settings.send else "build"
        jobs.append(
            JobSpec(
                id=DAILY,
                func="digest.schedule:daily_job",
                trigger=daily_trigger(settings.build_cron, settings.timezone),
                what=f'{sends} the issue at "{settings.build_cron}" ({settings.timezone})',
            )
        )
    return jobs


def same_schedule(old: BaseTrigger, new: BaseTrigger) -> bool:
    """Whether a stored trigger fires when the configured one does, so its next run stands."""
    if isinstance(old, CronTrigger) and isinstance(new, CronTrigger):
        return type(old) is type(new) and (str(old), str(old.timezone)) == (
            str(new),
            str(new.timezone),
        )
    if isinstance(old, IntervalTrigger) and isinstance(new, IntervalTrigger):
        return (old.interval, str(old.timezone)) == (new.interval, str(new.timezone))
    return False


def next_runs(trigger: BaseTrigger, now: dt.datetime, count: int) -> list[dt.datetime]:
    runs: list[dt.datetime] = []
    previous = None
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now if previous is None else previous)
        if fire is None:
            break
        runs.append(fire)
        previous = fire
    return runs


def issue_date(config: Config, run_time: dt.datetime) -> dt.date:
    """The issue a daily run builds: the date of its scheduled time in the schedule's zone,
    so a run that starts late (after midnight, say) still builds the issue it was for."""
    return local_time(run_time, zoneinfo.ZoneInfo(config.schedule.timezone)).date()


def local_time(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """`moment` on the zone's clock. Through UTC, since APScheduler may hand back a time
    that does not exist on that clock (02:30 on a spring-forward day) in the zone itself."""
    return moment.astimezone(dt.UTC).astimezone(zone)


def clock_time(moment: dt.datetime | None, zone: dt.tzinfo) -> str:
    """`Mon 2026-03-09 06:00 EDT`, with seconds only when there are some."""
    if moment is None:
        return "never"
    local = local_time(moment, zone)
    seconds = ":%S" if local.second or local.microsecond else ""
    return local.strftime(f"%a %Y-%m-%d %H:%M{seconds} %Z")


def collect_job(config_file: str, *, run_time: dt.datetime | None = None) -> RunResult:
    """Fetch every enabled feed once; the run fails only when every feed failed."""
    from digest.collect import feed_sources
    from digest.itemstore import SQLiteItemStore
    from digest.store import Database

    config = load_config(Path(config_file))
    if not feed_sources(config):
        return RunResult(True, "no enabled feed sources; nothing to collect", {"feeds": 0})
    database = Database(config.state_path)
    try:
        return _collect(config, SQLiteItemStore(database))
    finally:
        database.close()


def daily_job(config_file: str, *, run_time: dt.datetime | None = None) -> RunResult:
    """Collect, build the issue of the run's date, then send it when `[schedule] send` says so.

    The build is not interrupted by SIGTERM or Ctrl-C (it takes seconds); collecting
    stops between feeds and sending after the message in flight, as on the command line.
    """
    from digest.collect import feed_sources
    from digest.itemstore import SQLiteItemStore
    from digest.pipeline import build
    from digest.store import Database, SQLiteHistory

    config = load_config(Path(config_file))
    date = issue_date(config, run_time or dt.datetime.now(dt.UTC))
    parts: list[str] = []
    counts: dict[str, int] = {}
    ok, stop = True, False
    database = Database(config.state_path)
    try:
        store = SQLiteItemStore(database)
        if feed_sources(config):
            collected = _collect(config, store)
            parts.append(collected.summary)
            counts.update(collected.counts)
        try:
            with hold_interrupts():
                now = dt.datetime.now(dt.UTC)
                result = build(config, date, config.build.out, SQLiteHistory(database), store, now)
        except KeyboardInterrupt:
            if config.schedule.send:
                raise  # stop before the batch starts; the next start runs this job again
            stop = True  # the build was the last step: this run is done, then stop
    finally:
        database.close()
    issue = result.issue
    counts.update(stories=len(issue.stories), warnings=len(issue.report.warnings))
    parts.append(
        f"built the {date} issue: {len(issue.stories)} stories in {len(issue.sections)} "
        f"sections, {len(issue.report.warnings)} warnings, in {result.folder}"
    )
    if config.schedule.send:
        sent = _send(config, date)
        parts.append(sent.summary)
        counts.update(sent.counts)
        ok = sent.ok
    return RunResult(ok, "; ".join(parts), counts, stop=stop)


def _collect(config: Config, store: ItemStore) -> RunResult:
    from digest.collect import collect

    report = collect(config, store, dt.datetime.now(dt.UTC))
    failed = [o for o in report.outcomes if o.status == "failed"]
    summary = (
        f"collected {len(report.outcomes)} feeds: {report.new_items} new items, "
        f"{report.count('fetched')} fetched, {report.count('not_modified')} not modified, "
        f"{len(failed)} failed, {report.count('skipped')} skipped"
    )
    if failed:
        shown = ", ".join(f"{o.name} ({o.message})" for o in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        summary += f" [failed: {shown}{more}]"
    counts = {"feeds": len(report.outcomes), "new_items": report.new_items, "failed": len(failed)}
    return RunResult(len(failed) < len(report.outcomes), summary, counts)


def _send(config: Config, date: dt.date) -> RunResult:
    from digest.send import send_issue

    report = send_issue(config, date)
    summary = (
        f"sent to {report.sent} readers ({report.already_sent} had it already, "
        f"{len(report.failed)} failed, {len(report.pending)} pending, "
        f"{len(report.in_doubt)} in doubt, of {report.recipients})"
    )
    if report.stopped:
        summary += f"; stopped early: {report.stopped}"
    if not report.complete:
        summary += f"; 'digest send --date {date}' tries the rest again"
    counts = {
        "sent": report.sent,
        "already_sent": report.already_sent,
        "send_failed": len(report.failed),
        "send_pending": len(report.pending),
        "send_in_doubt": len(report.in_doubt),
    }
    return RunResult(report.complete, summary, counts)
