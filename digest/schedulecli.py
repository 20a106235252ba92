"""`digest schedule --list` and `--status`: what the schedule will do and what it did."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

from digest.config import Config
from digest.schedule import clock_time, next_runs, plan, same_schedule
from digest.scheduler import STARTING, holder_if_running
from digest.schedulestore import Run, SQLiteScheduleState
from digest.store import Database


def list_lines(config: Config, now: dt.datetime, count: int = 5) -> Iterator[str]:
    """Each job and its next run times in the schedule's zone."""
    zone = zoneinfo.ZoneInfo(config.schedule.timezone)
    for spec in plan(config, now):
        yield f"{spec.id}: {spec.what}"
        for fire in next_runs(spec.trigger, now, count):
            yield f"  {clock_time(fire, zone)}"


def status_lines(config: Config, now: dt.datetime) -> Iterator[str]:
    """Who runs the schedule; each job's last run, last problem and next run."""
    zone = zoneinfo.ZoneInfo(config.schedule.timezone)
    database = Database(config.state_path)
    try:
        state = SQLiteScheduleState(database)
        holder = holder_if_running(config, state)
        if holder is None:
            yield f"digest schedule is not running for {config.state_path}"
        elif holder is STARTING:
            yield f"digest schedule is starting for {config.state_path}"
        else:
            yield (
                f"digest schedule is running for {config.state_path}: pid {holder.pid} on "
                f"{holder.host} since {clock_time(holder.since, zone)}"
            )
        stored = state.next_run_times()
        for spec in plan(config, now):
            yield f"{spec.id}: {spec.what}"
            last = state.last_run(spec.id)
            yield "  last run:     " + (_run_line(last, zone) if last else "never")
            failure = state.last_failure(spec.id)
            if failure is not None and failure != last:
                yield "  last problem: " + _run_line(failure, zone)
            kept = state.stored_trigger(spec.id)
            if kept is not None and same_schedule(kept[0], spec.trigger) and spec.id in stored:
                yield f"  next run:     {clock_time(stored[spec.id], zone)}"
            else:
                first = next_runs(spec.trigger, now, 1)
                yield (
                    "  next run:     not scheduled yet; "
                    f"{clock_time(first[0] if first else None, zone)} once digest schedule starts"
                )
    finally:
        database.close()


def _run_line(run: Run, zone: zoneinfo.ZoneInfo) -> str:
    return f"{clock_time(run.scheduled_for, zone)}: {run.result}: {run.summary}"
