"""The `digest schedule` runtime: APScheduler in the foreground, one per state store.

- **Persistent**: jobs live in the state database (`digest.schedulestore`). At start
  each configured job keeps its stored next run time when its schedule is unchanged,
  so runs missed while the scheduler was down are due at once: APScheduler coalesces
  them into one run (`[schedule] coalesce`), and a run later than `grace_minutes` is
  skipped with a log line saying so. A run stopped by SIGTERM is due again the same way.
- **Inline**: jobs run one at a time in the main thread (`InlineExecutor`), so a
  collect and a build never overlap on the state, the collect's worker processes are
  forked from a process without threads, and SIGTERM/SIGINT reach the job itself.
- **Clean stops**: SIGTERM behaves as Ctrl-C does on the command line. Idle, the
  scheduler stops at once; during a job, a collect stops between feeds (what it
  stored stays), a build finishes (seconds), a send finishes the message in flight
  and records it (the send log resumes the rest). Then the process exits 0.
- **One per store**: an OS lock (`fcntl.flock`) on a file next to the database is
  the truth, released by the kernel when the process dies however it dies; the
  holder's pid, host and start time are written to the database so that a second
  scheduler can say who holds it, and a record left by a dead holder is taken over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import zoneinfo
from pathlib import Path
from types import FrameType
from typing import IO, Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_START,
    JobExecutionEvent,
)
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler

from digest.config import Config, ConfigError
from digest.schedule import JobSpec, RunResult, clock_time, plan, same_schedule
from digest.schedulestore import DatabaseJobStore, Holder, Run, SQLiteScheduleState
from digest.store import Database

LOG = logging.getLogger("digest.schedule")
MAX_COUNTED = 10_000  # missed runs counted for the start-up log line, at most


# The OS lock is held but the holder has not written its record yet.
STARTING = Holder(pid=0, host="", since=dt.datetime.min.replace(tzinfo=dt.UTC))


class SchedulerBusy(Exception):
    """Another `digest schedule` holds this state store."""


def _told_errors() -> tuple[type[Exception], ...]:
    """digest's own errors, worded for the user: their message is the whole story."""
    from digest.recipients import RecipientError
    from digest.send import NotBuilt
    from digest.signing import SigningError
    from digest.transport import TransportError

    return (NotBuilt, RecipientError, SigningError, TransportError)


def lock_path(config: Config) -> Path:
    return config.state_path.with_name(config.state_path.name + ".schedule.lock")


class SchedulerLock:
    """The OS lock plus the holder record; see the module doc."""

    def __init__(self, path: Path, state: SQLiteScheduleState) -> None:
        self.path = path
        self.state = state
        self.file: IO[str] | None = None

    def acquire(self, now: dt.datetime) -> Holder | None:
        """Take the store, or raise SchedulerBusy naming the holder; returns a stale holder
        record that was taken over, if there was one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            written = file.read().strip()
            file.close()
            holder = self.state.holder()
            raise SchedulerBusy(_busy_message(self.state.database.path, holder, written)) from None
        stale = self.state.holder()
        me = Holder(pid=os.getpid(), host=socket.gethostname(), since=now)
        file.seek(0)
        file.truncate()
        file.write(f"pid {me.pid} on {me.host} since {me.since.isoformat()}\n")
        file.flush()
        self.state.set_holder(me)
        self.file = file
        return stale

    def release(self) -> None:
        if self.file is None:
            return
        self.state.clear_holder(os.getpid())
        self.file.seek(0)
        self.file.truncate()
        fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
        self.file.close()
        self.file = None


def holder_if_running(config: Config, state: SQLiteScheduleState) -> Holder | None:
    """The scheduler holding this store now, or None (a record left by a dead one is ignored)."""
    path = lock_path(config)
    if not path.exists():
        return None
    with path.open("a+", encoding="utf-8") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return state.holder() or STARTING
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
    return None


def _busy_message(path: Path, holder: Holder | None, written: str) -> str:
    who = (
        f"pid {holder.pid} on {holder.host} since {_utc(holder.since)}"
        if holder
        else written or "a process that has not said who it is yet"
    )
    return (
        f"another digest schedule is already running for {path}: {who}; "
        "stop it first (one scheduler per state database)"
    )


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- logging -------------------------------------------------------------------------


class _TextFormatter(logging.Formatter):
    def __init__(self, zone: zoneinfo.ZoneInfo) -> None:
        super().__init__()
        self.zone = zone

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, self.zone)
        line = f"{when:%Y-%m-%d %H:%M:%S %Z} {record.levelname.lower()} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, message, and the run's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, sort_keys=False)


def setup_logging(log_format: str, zone: zoneinfo.ZoneInfo, stream: IO[str]) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JSONFormatter() if log_format == "json" else _TextFormatter(zone))
    for name, level in (("digest.schedule", logging.INFO), ("apscheduler", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def _say(level: int, message: str, **fields: Any) -> None:
    LOG.log(level, message, extra={"fields": fields})


# --- running the jobs ------------------------------------------------------------------


class Runtime:
    """Runs each job, records and logs the run, and turns signals into clean stops."""

    def __init__(self, state: SQLiteScheduleState, zone: zoneinfo.ZoneInfo) -> None:
        self.state = state
        self.zone = zone
        self.scheduler: StoppableScheduler | None = None
        self.running: str | None = None
        self.stopping = False
        self.stopper: threading.Thread | None = None

    def run(self, job: Job, run_time: dt.datetime) -> bool:
        if self.stopping:
            self._finish(job.id, run_time, None, "interrupted", "not started: stopping")
            return False
        started = dt.datetime.now(dt.UTC)
        clock = time.monotonic()
        bug: Exception | None = None
        try:
            self.running = job.id
            result: RunResult = job.func(*job.args, run_time=run_time, **job.kwargs)
        except KeyboardInterrupt:
            self.running = None
            self._finish(job.id, run_time, started, "interrupted", "stopped by a signal")
            self.stop()
            return False
        except ConfigError as exc:
            result = RunResult(False, f"config error: {exc}")
        except Exception as exc:  # a failing job must never stop the scheduler
            result = RunResult(False, f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, _told_errors()):
                bug = exc  # not one of digest's own worded errors: keep the traceback
        finally:
            self.running = None
        seconds = time.monotonic() - clock
        self._finish(
            job.id,
            run_time,
            started,
            "ok" if result.ok else "failed",
            result.summary,
            error=bug,
            seconds=round(seconds, 3),
            **result.counts,
        )
        if result.stop or self.stopping:
            self.stop()
        return result.ok

    def missed(self, job: Job, run_time: dt.datetime, late: dt.timedelta) -> None:
        grace = dt.timedelta(seconds=job.misfire_grace_time)
        self._finish(
            job.id,
            run_time,
            None,
            "missed",
            f"skipped: it was due {_span(late)} ago, beyond the grace period of {_span(grace)}",
            level=logging.WARNING,
        )

    def _finish(
        self,
        job: str,
        run_time: dt.datetime,
        started: dt.datetime | None,
        result: Any,
        summary: str,
        level: int | None = None,
        error: Exception | None = None,
        **fields: Any,
    ) -> None:
        self.state.record(Run(job, run_time, started, dt.datetime.now(dt.UTC), result, summary))
        if level is None:
            level = logging.INFO if result == "ok" else logging.ERROR
        if result == "interrupted":
            level = logging.WARNING
        LOG.log(
            level,
            f"{job} run due {self.local(run_time)}: {result}: {summary}",
            exc_info=(type(error), error, error.__traceback__) if error else None,
            extra={
                "fields": {
                    "event": "run",
                    "job": job,
                    "scheduled_for": run_time.isoformat(),
                    "result": result,
                    "summary": summary,
                    **fields,
                }
            },
        )

    def local(self, moment: dt.datetime) -> str:
        return clock_time(moment, self.zone)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.running is None:
            # Idle, the main thread is in the scheduler's loop, maybe inside the lock of
            # the threading.Event it sleeps on. A handler runs in that same thread, so
            # waking the loop from here could wait forever on a lock its own thread holds:
            # another thread logs and stops it.
            if self.stopper is None and not self.stopping:
                self.stopping = True
                self.stopper = threading.Thread(
                    target=self._stop_idle, args=(name,), name="digest-stop", daemon=True
                )
                self.stopper.start()
            return
        if not self.stopping:
            doing = f" once the {self.running} job reaches a safe point"
            _say(logging.INFO, f"{name} received: stopping{doing}", event="stopping")
        self.stopping = True
        # During a job, SIGTERM is Ctrl-C: whoever holds SIGINT (a send's message in
        # flight, a build) decides when the job may stop.
        handler = signal.getsignal(signal.SIGINT)
        if handler == self.on_signal or not callable(handler):
            raise KeyboardInterrupt
        handler(signal.SIGINT, frame)

    def _stop_idle(self, name: str) -> None:
        _say(logging.INFO, f"{name} received: stopping", event="stopping")
        self.stop()

    def stop(self) -> None:
        self.stopping = True
        if self.scheduler is not None and self.scheduler.running:
            # the stopper thread and the main thread may both get here
            with contextlib.suppress(SchedulerNotRunningError):
                self.scheduler.shutdown(wait=False)

    def wait_for_stopper(self) -> None:
        """Let the stopper thread's log line out before the process says it stopped."""
        if self.stopper is not None:
            self.stopper.join(timeout=5)


class StoppableScheduler(BlockingScheduler):  # type: ignore[misc]  # APScheduler 3 has no types
    """A BlockingScheduler that starts no job once a stop is asked for.

    A signal that lands while the loop is idle only marks the runtime as stopping: the
    stopper thread shuts the scheduler down a moment later (see `Runtime.on_signal`).
    Should the loop wake in that moment for a job that just came due, the job is left
    due, as a job missed while the scheduler was down is, rather than started.
    """

    def __init__(self, runtime: Runtime, **options: Any) -> None:
        super().__init__(**options)
        self.runtime = runtime

    def _process_jobs(self) -> float | None:
        if self.runtime.stopping:
            return None  # sleep until the stopper's shutdown wakes the loop to end it
        wait: float | None = super()._process_jobs()
        return wait


class InlineExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 has no types
    """Runs each job right here, in the scheduler's (main) thread, handing it its scheduled
    time (a daily run builds the issue of the day it was due, however late it starts)."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    def _do_submit_job(self, job: Job, run_times: list[dt.datetime]) -> None:
        events = []
        for run_time in run_times:
            late = dt.datetime.now(dt.UTC) - run_time
            grace = job.misfire_grace_time
            if grace is not None and late > dt.timedelta(seconds=grace):
                self.runtime.missed(job, run_time, late)
                code = EVENT_JOB_MISSED
            else:
                try:
                    ok = self.runtime.run(job, run_time)
                except KeyboardInterrupt:  # a signal between two of run's own steps
                    self.runtime.stop()
                    ok = False
                code = EVENT_JOB_EXECUTED if ok else EVENT_JOB_ERROR
            events.append(JobExecutionEvent(code, job.id, job._jobstore_alias, run_time))
        self._run_job_success(job.id, events)


def run_scheduler(config: Config, log_format: str = "text", stream: IO[str] | None = None) -> None:
    """Run the configured jobs until SIGTERM or SIGINT; raises SchedulerBusy if another
    scheduler holds the state store."""
    settings = config.schedule
    zone = zoneinfo.ZoneInfo(settings.timezone)
    setup_logging(log_format, zone, stream or sys.stderr)
    jobs = plan(config, dt.datetime.now(dt.UTC))
    if not jobs:
        raise ConfigError(
            f"{config.file}: schedule: nothing to run (collect_every_minutes = 0 and "
            'build_cron = ""); set one of them'
        )
    database = Database(config.state_path)
    try:
        state = SQLiteScheduleState(database)
        lock = SchedulerLock(lock_path(config), state)
        stale = lock.acquire(dt.datetime.now(dt.UTC))
        try:
            if stale is not None:
                _say(
                    logging.WARNING,
                    f"took over the state store from a scheduler that is gone: pid {stale.pid} "
                    f"on {stale.host} since {_utc(stale.since)}",
                    event="takeover",
                    pid=stale.pid,
                    host=stale.host,
                )
            _run(config, jobs, database, state, zone)
        finally:
            lock.release()
    finally:
        database.close()


def _run(
    config: Config,
    jobs: list[JobSpec],
    database: Database,
    state: SQLiteScheduleState,
    zone: zoneinfo.ZoneInfo,
) -> None:
    settings = config.schedule
    runtime = Runtime(state, zone)
    store = DatabaseJobStore(database)
    scheduler = StoppableScheduler(
        runtime,
        timezone=zone,
        jobstores={"default": store},
        executors={"default": InlineExecutor(runtime)},
    )
    runtime.scheduler = scheduler
    _say(
        logging.INFO,
        f"started (pid {os.getpid()}); state in {config.state_path}",
        event="started",
        pid=os.getpid(),
    )
    now = dt.datetime.now(dt.UTC)
    wanted = {spec.id for spec in jobs}
    for job_id in state.next_run_times():
        if job_id not in wanted:
            store.remove_job(job_id)
    for spec in jobs:
        kept = _kept_next_run(spec, state, now, runtime, settings.coalesce)
        options: dict[str, Any] = {} if kept is None else {"next_run_time": kept}
        scheduler.add_job(
            spec.func,
            trigger=spec.trigger,
            args=(str(config.file),),
            id=spec.id,
            name=spec.id,
            coalesce=settings.coalesce,
            misfire_grace_time=max(1, round(settings.grace_minutes * 60)),
            max_instances=1,
            replace_existing=True,
            **options,
        )

    def started(event: object) -> None:
        for job in store.get_all_jobs():
            overdue = " (overdue)" if job.next_run_time <= now else ""
            _say(
                logging.INFO,
                f"{job.id} next due {runtime.local(job.next_run_time)}{overdue}",
                event="next",
                job=job.id,
                next_run=job.next_run_time.isoformat(),
            )

    scheduler.add_listener(started, EVENT_SCHEDULER_START)
    previous = {s: signal.signal(s, runtime.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with contextlib.suppress(KeyboardInterrupt):
            scheduler.start()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        runtime.stop()
        runtime.wait_for_stopper()
    _say(logging.INFO, "stopped", event="stopped")


def _kept_next_run(
    spec: JobSpec,
    state: SQLiteScheduleState,
    now: dt.datetime,
    runtime: Runtime,
    coalesce: bool,
) -> dt.datetime | None:
    """The stored next run time when the schedule is unchanged (earlier if the last run was
    interrupted, so that it is due again); None to start the job afresh from now."""
    stored = state.stored_trigger(spec.id)
    if stored is None or stored[1] is None or not same_schedule(stored[0], spec.trigger):
        return None
    kept = stored[1]
    last = state.last_run(spec.id)
    if last is not None and last.result == "interrupted" and last.scheduled_for < kept:
        kept = last.scheduled_for
        _say(
            logging.INFO,
            f"{spec.id}: the run due {runtime.local(kept)} was interrupted; it is due again",
            event="resume",
            job=spec.id,
        )
    due = [kept]
    while len(due) < MAX_COUNTED:
        fire = spec.trigger.get_next_fire_time(due[-1], now)
        if fire is None or fire > now:
            break
        due.append(fire)
    if kept <= now:
        how = "coalesced into one run" if len(due) > 1 and coalesce else "run"
        runs = f"{len(due)} runs" if len(due) > 1 else "1 run"
        _say(
            logging.INFO,
            f"{spec.id}: {runs} came due while the scheduler was stopped, the last "
            f"{runtime.local(due[-1])}; {how} now unless beyond the grace period",
            event="due",
            job=spec.id,
            due=len(due),
            last_due=due[-1].isoformat(),
        )
    return kept


def _span(delta: dt.timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
