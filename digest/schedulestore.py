"""The scheduler's state in the project's SQLite file: its jobs, its runs, who holds it.

Why a job store of our own rather than APScheduler's SQLAlchemyJobStore on the same
file: it goes through `digest.store.Database` like every other part (one connection
setup, WAL, busy timeout, append-only migrations), needs no SQLAlchemy, and sits
next to the run history it is read with. It keeps what APScheduler's own stores
keep: each job's pickled state and its next run time, indexed for "what is due".
"""

from __future__ import annotations

import datetime as dt
import pickle
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.triggers.base import BaseTrigger

from digest.store import Database

SCHEDULE_SCHEMA = [
    """
    CREATE TABLE schedule_jobs (
        id TEXT PRIMARY KEY,
        next_run_time REAL,
        job_state BLOB NOT NULL
    );
    CREATE INDEX schedule_jobs_due ON schedule_jobs (next_run_time);
    CREATE TABLE schedule_runs (
        number INTEGER PRIMARY KEY AUTOINCREMENT,
        job TEXT NOT NULL,
        scheduled_for TEXT NOT NULL,
        started TEXT,
        finished TEXT NOT NULL,
        result TEXT NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE INDEX schedule_runs_by_job ON schedule_runs (job, number);
    CREATE TABLE schedule_holder (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        since TEXT NOT NULL
    )
    """,
]

Result = Literal["ok", "failed", "missed", "interrupted"]


@dataclass(frozen=True)
class Run:
    """One run of a job, or one it skipped: `missed` (beyond the grace period) or
    `interrupted` (stopped by SIGTERM/Ctrl-C, or never started because of one)."""

    job: str
    scheduled_for: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime
    result: Result
    summary: str


@dataclass(frozen=True)
class Holder:
    """The scheduler process that holds a state store."""

    pid: int
    host: str
    since: dt.datetime


class ScheduleState(Protocol):
    """Run history and the holder record, for the scheduler and `digest schedule --status`."""

    def record(self, run: Run) -> None: ...

    def last_run(self, job: str) -> Run | None: ...

    def last_failure(self, job: str) -> Run | None: ...

    def next_run_times(self) -> dict[str, dt.datetime | None]: ...

    def holder(self) -> Holder | None: ...

    def set_holder(self, holder: Holder) -> None: ...

    def clear_holder(self, pid: int) -> None: ...


def _text(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment else None


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _timestamp(moment: dt.datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def _from_timestamp(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, dt.UTC) if value is not None else None


class SQLiteScheduleState:
    def __init__(self, database: Database) -> None:
        self.database = database
        database.migrate("schedule", SCHEDULE_SCHEMA)

    def record(self, run: Run) -> None:
        with self.database.transaction() as db:
            db.execute(
                "INSERT INTO schedule_runs (job, scheduled_for, started, finished, result, summary)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run.job,
                    _text(run.scheduled_for),
                    _text(run.started),
                    _text(run.finished),
                    run.result,
                    run.summary,
                ),
            )

    def last_run(self, job: str) -> Run | None:
        return self._one("WHERE job = ?", job)

    def last_failure(self, job: str) -> Run | None:
        return self._one("WHERE job = ? AND result != 'ok'", job)

    def _one(self, where: str, job: str) -> Run | None:
        row = self.database.db.execute(
            "SELECT job, scheduled_for, started, finished, result, summary FROM schedule_runs "
            f"{where} ORDER BY number DESC LIMIT 1",
            (job,),
        ).fetchone()
        if row is None:
            return None
        name, scheduled, started, finished, result, summary = row
        return Run(
            job=name,
            scheduled_for=dt.datetime.fromisoformat(scheduled),
            started=_moment(started),
            finished=dt.datetime.fromisoformat(finished),
            result=result,
            summary=summary,
        )

    def next_run_times(self) -> dict[str, dt.datetime | None]:
        rows = self.database.db.execute("SELECT id, next_run_time FROM schedule_jobs").fetchall()
        return {job: _from_timestamp(when) for job, when in rows}

    def stored_trigger(self, job_id: str) -> tuple[BaseTrigger, dt.datetime | None] | None:
        """A stored job's trigger and next run time, read without a running scheduler."""
        row = self.database.db.execute(
            "SELECT job_state, next_run_time FROM schedule_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        if row is None:
            return None
        try:
            state = pickle.loads(row[0])
            trigger = state["trigger"]
        except Exception:  # a job pickled by another version: treat it as not there
            return None
        return trigger, _from_timestamp(row[1])

    def holder(self) -> Holder | None:
        row = self.database.db.execute("SELECT pid, host, since FROM schedule_holder").fetchone()
        if row is None:
            return None
        return Holder(pid=row[0], host=row[1], since=dt.datetime.fromisoformat(row[2]))

    def set_holder(self, holder: Holder) -> None:
        with self.database.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO schedule_holder (one, pid, host, since)"
                " VALUES (1, ?, ?, ?)",
                (holder.pid, holder.host, _text(holder.since)),
            )

    def clear_holder(self, pid: int) -> None:
        with self.database.transaction() as db:
            db.execute("DELETE FROM schedule_holder WHERE pid = ?", (pid,))


class DatabaseJobStore(BaseJobStore):  # type: ignore[misc]  # APScheduler 3 has no types
    """APScheduler's job store interface over the `schedule_jobs` table."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self.database = database
        database.migrate("schedule", SCHEDULE_SCHEMA)

    def lookup_job(self, job_id: str) -> Job | None:
        row = self.database.db.execute(
            "SELECT job_state FROM schedule_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return self._job(row[0]) if row else None

    def get_due_jobs(self, now: dt.datetime) -> list[Job]:
        return self._jobs("WHERE next_run_time <= ?", (now.timestamp(),))

    def get_next_run_time(self) -> dt.datetime | None:
        row = self.database.db.execute(
            "SELECT MIN(next_run_time) FROM schedule_jobs WHERE next_run_time IS NOT NULL"
        ).fetchone()
        return _from_timestamp(row[0]) if row else None

    def get_all_jobs(self) -> list[Job]:
        return self._jobs("", ())

    def add_job(self, job: Job) -> None:
        try:
            with self.database.transaction() as db:
                db.execute(
                    "INSERT INTO schedule_jobs (id, next_run_time, job_state) VALUES (?, ?, ?)",
                    (job.id, _timestamp(job.next_run_time), _pickle(job)),
                )
        except sqlite3.IntegrityError as exc:
            raise ConflictingIdError(job.id) from exc

    def update_job(self, job: Job) -> None:
        with self.database.transaction() as db:
            changed = db.execute(
                "UPDATE schedule_jobs SET next_run_time = ?, job_state = ? WHERE id = ?",
                (_timestamp(job.next_run_time), _pickle(job), job.id),
            ).rowcount
        if not changed:
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        with self.database.transaction() as db:
            removed = db.execute("DELETE FROM schedule_jobs WHERE id = ?", (job_id,)).rowcount
        if not removed:
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        with self.database.transaction() as db:
            db.execute("DELETE FROM schedule_jobs")

    def shutdown(self) -> None:
        """The database belongs to whoever opened it; it closes it after the scheduler stops."""

    def _jobs(self, where: str, args: tuple[Any, ...]) -> list[Job]:
        rows = self.database.db.execute(
            f"SELECT job_state FROM schedule_jobs {where}"
            " ORDER BY next_run_time IS NULL, next_run_time, id",
            args,
        ).fetchall()
        return [self._job(row[0]) for row in rows]

    def _job(self, state: bytes) -> Job:
        job: Job = Job.__new__(Job)
        job.__setstate__(pickle.loads(state))
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job


def _pickle(job: Job) -> bytes:
    return pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL)
