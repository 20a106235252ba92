"""`digest schedule`: the daily trigger's calendar, and the real scheduler in a real process.

The process tests run `python -m digest schedule --log-format json` with intervals of a
second or two, read its log lines as they come, and stop it with real signals; every
wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_digest
from feedserver import FeedServer, Reply, rss
from smtp_sink import Sink, SMTPServer

from digest.config import ConfigError, load_config, parse_config
from digest.schedule import (
    DAILY,
    crontab_weekdays,
    daily_trigger,
    local_time,
    next_runs,
    plan,
)
from digest.schedulecli import list_lines
from digest.scheduler import InlineExecutor, Runtime, StoppableScheduler
from digest.schedulestore import Holder, SQLiteScheduleState
from digest.store import Database

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
Event = dict[str, Any]


# --- the daily trigger across daylight-saving changes ---------------------------------


def fires(expression: str, start: dt.datetime, days: int) -> list[dt.datetime]:
    trigger = daily_trigger(expression, "America/New_York")
    return [local_time(f, NEW_YORK) for f in next_runs(trigger, start, days)]


def test_a_build_at_0230_runs_once_on_the_day_that_hour_does_not_exist() -> None:
    runs = fires("30 2 * * *", dt.datetime(2025, 3, 7, tzinfo=NEW_YORK), 5)
    assert [r.date() for r in runs] == [dt.date(2025, 3, d) for d in range(7, 12)]
    # 02:30 never happens on 9 March (02:00 EST -> 03:00 EDT): it runs an hour later.
    assert runs[2].astimezone(dt.UTC) == dt.datetime(2025, 3, 9, 7, 30, tzinfo=dt.UTC)
    assert (runs[2].hour, runs[2].minute, runs[2].tzname()) == (3, 30, "EDT")
    assert [(r.hour, r.minute) for r in runs[3:]] == [(2, 30), (2, 30)]


@pytest.mark.parametrize("at", ["30 1 * * *", "0 1 * * *", "59 1 * * *"])
def test_a_build_in_the_hour_that_happens_twice_runs_once(at: str) -> None:
    runs = fires(at, dt.datetime(2025, 10, 31, tzinfo=NEW_YORK), 5)
    assert [r.date() for r in runs] == [dt.date(2025, 10, 31)] + [
        dt.date(2025, 11, d) for d in range(1, 5)
    ]
    assert runs[2].tzname() == "EDT"  # the first 01:xx of 2 November, not the second


def test_a_start_between_the_two_0130s_waits_for_the_next_day() -> None:
    between = dt.datetime(2025, 11, 2, 5, 45, tzinfo=dt.UTC)  # 01:45 EDT, before 01:30 EST
    assert fires("30 1 * * *", between, 1)[0].date() == dt.date(2025, 11, 3)


def test_the_shipped_schedule_is_weekdays_at_six_in_new_york_across_both_changes() -> None:
    config = load_config(REPO / "digest.toml")
    daily = next(job for job in plan(config, dt.datetime.now(dt.UTC)) if job.id == DAILY)
    for start, days in (((2025, 3, 6), 6), ((2025, 10, 30), 6)):
        runs = next_runs(daily.trigger, dt.datetime(*start, tzinfo=NEW_YORK), days)
        local = [local_time(r, NEW_YORK) for r in runs]
        assert all((r.hour, r.minute) == (6, 0) for r in local)
        assert all(r.weekday() < 5 for r in local)
        assert len({r.date() for r in local}) == days
    assert config.schedule.timezone == "America/New_York"


def test_crontab_weekday_numbers_count_from_sunday() -> None:
    assert crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("0") == crontab_weekdays("7") == "sun"
    assert crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert crontab_weekdays("5-7") == "sun,fri,sat"
    assert crontab_weekdays("mon-fri") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("0-6") == "*"


@pytest.mark.parametrize(
    ("schedule", "key", "words"),
    [
        ({"build_cron": "61 6 * * *"}, "schedule.build_cron", "61 6 * * *"),
        ({"build_cron": "0 6 * *"}, "schedule.build_cron", "expected 5 fields"),
        ({"build_cron": "0 6 * * 2-1"}, "schedule.build_cron", "runs backwards"),
        ({"timezone": "Mars/Olympus_Mons"}, "schedule.timezone", "unknown time zone"),
        ({"collect_every_minutes": -5}, "schedule.collect_every_minutes", "0 (no collecting)"),
    ],
)
def test_a_bad_schedule_is_a_config_error_naming_the_key(
    schedule: dict[str, Any], key: str, words: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"schedule": schedule}, tmp_path / "digest.toml")
    assert f"digest.toml: {key}:" in str(caught.value)
    assert words in str(caught.value)


def test_list_prints_each_jobs_next_runs_in_the_schedules_zone(tmp_path: Path) -> None:
    config = parse_config(
        {
            "newsletter": {"timezone": "Europe/Paris"},
            "schedule": {"build_cron": "30 5 * * 1-5", "collect_every_minutes": 30},
        },
        tmp_path / "digest.toml",
    )
    now = dt.datetime(2025, 3, 28, 12, 0, tzinfo=dt.UTC)  # a Friday; Paris moves on Sunday
    lines = list(list_lines(config, now, count=3))
    assert lines == [
        "collect: collect the feeds every 30 minutes",
        "  Fri 2025-03-28 13:30 CET",
        "  Fri 2025-03-28 14:00 CET",
        "  Fri 2025-03-28 14:30 CET",
        'daily: build the issue at "30 5 * * 1-5" (Europe/Paris)',
        "  Mon 2025-03-31 05:30 CEST",
        "  Tue 2025-04-01 05:30 CEST",
        "  Wed 2025-04-02 05:30 CEST",
    ]


def test_an_invalid_cron_stops_schedule_at_start_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text('[schedule]\nbuild_cron = "0 25 * * *"\n')
    done = run_digest("schedule", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "schedule.build_cron" in done.stderr and "0 25 * * *" in done.stderr


# --- the real scheduler ---------------------------------------------------------------


class Scheduler:
    """`digest schedule` in its own process; its JSON log lines, as they arrive."""

    def __init__(self, project: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digest", "schedule", "--log-format", "json"],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C as in a terminal, even when the tests run as a background job (a shell
            # starts those with SIGINT ignored, and a child that inherits that never stops)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.events: list[Event] = []
        self.raw: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, check: Callable[[Event], bool], timeout: float = 20) -> Event:
        """The first event, seen or still to come, for which `check` holds."""
        for event in self.events:
            if check(event):
                return event
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.raw.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.events.append(event)
            if check(event):
                return event
        pytest.fail(f"no such event in time; the log so far:\n{''.join(self.raw)}")

    @property
    def started_at(self) -> dt.datetime:
        """When the process said it started: runs due before then came due while it was down."""
        started = self.wait_for(lambda e: e.get("event") == "started")
        return dt.datetime.fromisoformat(started["time"])

    def runs(self, job: str) -> list[Event]:
        return [e for e in self.events if e.get("event") == "run" and e["job"] == job]

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        self.wait_for(lambda e: e.get("event") == "stopped", timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def launch() -> Iterator[Callable[[Path], Scheduler]]:
    started: list[Scheduler] = []

    def start(project: Path) -> Scheduler:
        started.append(Scheduler(project))
        return started[-1]

    yield start
    for scheduler in started:
        scheduler.kill()


def make_project(folder: Path, schedule: str, extra: str = "", newsletter: str = "") -> Path:
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "cells.md").write_text(
        "# Sodium cells get cheaper\n\nA sodium-ion cell now costs less than lithium. "
        "It charges fast and keeps working in the cold.\n"
    )
    (folder / "digest.toml").write_text(
        f'[newsletter]\ntimezone = "America/New_York"\n{newsletter}\n'
        '[[sources]]\nname = "Notes"\npath = "src"\n'
        f"{extra}\n[schedule]\n{schedule}\n"
    )
    return folder


def is_run(job: str, result: str = "ok") -> Callable[[Event], bool]:
    return lambda e: e.get("event") == "run" and e["job"] == job and e["result"] == result


def when(event: Event) -> dt.datetime:
    return dt.datetime.fromisoformat(event["scheduled_for"])


def status(project: Path) -> str:
    done = run_digest("schedule", "--status", cwd=project)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_jobs_fire_and_sigterm_stops_the_scheduler_cleanly(
    tmp_path: Path, launch: Callable[[Path], Scheduler]
) -> None:
    # the build fires once, 4 s from now, and not again for a minute: the stop lands between runs
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=4)).second
    project = make_project(tmp_path, f'collect_every_minutes = 0.02\nbuild_cron = "{at} * * * * *"')
    scheduler = launch(project)
    scheduler.wait_for(is_run("collect"))
    assert f"running for {project / '.digest' / 'state.sqlite'}: pid " in status(project)
    built = scheduler.wait_for(is_run("daily"))
    date = when(built).astimezone(NEW_YORK).date().isoformat()
    assert built["stories"] == 1 and f"built the {date} issue" in built["message"]
    assert (project / "out" / date / "digest.html").is_file()

    assert scheduler.stop() == 0
    assert not list((project / "out" / date).glob(".*.tmp"))
    shown = status(project)
    assert "not running" in shown
    assert shown.count("last run:") == 2 and "ok: built the" in shown
    assert "collect: collect the feeds every 0.02 minutes" in shown


def test_a_signal_that_lands_while_the_idle_loop_holds_its_event_lock_still_stops_it(
    tmp_path: Path,
) -> None:
    # A signal handler runs in the main thread between two bytecodes, possibly while that
    # thread is inside the lock of the Event the scheduler sleeps on (Event.clear, the
    # entry to Event.wait). Waking the loop from the handler would then wait forever on a
    # lock its own thread holds (seen once in CI: SIGTERM, then no exit).
    database = Database(tmp_path / "state.sqlite")
    runtime = Runtime(SQLiteScheduleState(database), NEW_YORK)
    scheduler = StoppableScheduler(runtime, timezone=NEW_YORK)
    runtime.scheduler = scheduler
    loop = threading.Thread(target=scheduler.start, daemon=True)
    loop.start()
    lock = scheduler._event._cond  # what Event.set and Event.clear take
    held_until_rescue = threading.Event()

    def rescue() -> None:  # bounds the test if the handler does block
        held_until_rescue.set()
        lock.release()

    for _ in range(500):  # until the loop runs (then it sleeps in Event.wait, the lock free)
        if scheduler.running:
            break
        time.sleep(0.01)
    assert lock.acquire(timeout=10)
    timer = threading.Timer(10, rescue)
    timer.start()
    runtime.on_signal(signal.SIGTERM, None)  # in this thread, which holds the lock
    returned_with_lock_held = not held_until_rescue.is_set()
    timer.cancel()
    if returned_with_lock_held:
        lock.release()
    loop.join(timeout=10)
    runtime.wait_for_stopper()
    database.close()

    assert returned_with_lock_held, "the handler waited on the lock its own thread held"
    assert runtime.stopping and not loop.is_alive() and not scheduler.running


def test_a_job_that_comes_due_while_a_stop_is_under_way_is_left_due_not_started(
    tmp_path: Path,
) -> None:
    database = Database(tmp_path / "state.sqlite")
    state = SQLiteScheduleState(database)
    runtime = Runtime(state, NEW_YORK)
    scheduler = StoppableScheduler(
        runtime, timezone=NEW_YORK, executors={"default": InlineExecutor(runtime)}
    )
    runtime.scheduler = scheduler
    started: list[dt.datetime | None] = []
    scheduler.add_job(
        lambda run_time=None: started.append(run_time),
        "interval",
        seconds=60,
        id="collect",
        next_run_time=dt.datetime.now(dt.UTC),  # due at once
    )
    runtime.stopping = True  # what a signal that landed a moment ago left behind
    loop = threading.Thread(target=scheduler.start, daemon=True)
    loop.start()
    for _ in range(500):
        if scheduler.running:
            break
        time.sleep(0.01)
    runtime.stop()  # what the stopper thread then does
    loop.join(timeout=10)
    recorded = state.last_run("collect")
    database.close()

    assert not loop.is_alive() and started == []
    assert recorded is None  # nothing recorded: it is still due at the next start


def test_runs_missed_while_stopped_are_coalesced_into_one_run_within_the_grace_period(
    tmp_path: Path, launch: Callable[[Path], Scheduler]
) -> None:
    project = make_project(
        tmp_path, 'collect_every_minutes = 0.02\nbuild_cron = ""\ngrace_minutes = 60'
    )
    first = launch(project)
    first.wait_for(is_run("collect"))
    assert first.stop() == 0
    time.sleep(3)  # two or more runs, 1.2 s apart, come due while it is down

    second = launch(project)
    due = second.wait_for(lambda e: e.get("event") == "due")
    assert due["due"] >= 2 and "coalesced into one run" in due["message"]
    late = second.wait_for(is_run("collect"))
    assert when(late) == dt.datetime.fromisoformat(due["last_due"]) < second.started_at
    second.wait_for(lambda e: is_run("collect")(e) and when(e) > second.started_at)
    assert second.stop() == 0
    assert [when(e) < second.started_at for e in second.runs("collect")].count(True) == 1


def test_a_run_missed_by_more_than_the_grace_period_is_skipped_and_the_log_says_so(
    tmp_path: Path, launch: Callable[[Path], Scheduler]
) -> None:
    # every 4.8 s, at most 1 s late: restarted 1.2 s after a run was due, it is skipped
    project = make_project(
        tmp_path, 'collect_every_minutes = 0.08\nbuild_cron = ""\ngrace_minutes = 0.01'
    )
    first = launch(project)
    due = dt.datetime.fromisoformat(first.wait_for(lambda e: e.get("event") == "next")["next_run"])
    assert first.stop() == 0
    time.sleep(max(0.0, (due - dt.datetime.now(dt.UTC)).total_seconds() + 1.2))

    second = launch(project)
    skipped = second.wait_for(is_run("collect", "missed"))
    assert when(skipped) == due
    assert "skipped: it was due" in skipped["message"]
    assert "beyond the grace period of 1.0 s" in skipped["message"]
    assert second.stop() == 0
    assert not [e for e in second.runs("collect") if e["result"] == "ok" and when(e) == due]
    assert "missed: skipped: it was due" in status(project)


def test_a_second_scheduler_on_the_same_state_refuses_and_a_dead_ones_lock_is_taken_over(
    tmp_path: Path, launch: Callable[[Path], Scheduler]
) -> None:
    project = make_project(tmp_path, 'collect_every_minutes = 60\nbuild_cron = "0 6 * * *"')
    first = launch(project)
    first.wait_for(lambda e: e.get("event") == "next")
    refused = run_digest("schedule", cwd=project)
    assert refused.returncode == 1
    assert "another digest schedule is already running" in refused.stderr
    assert f"pid {first.process.pid} on {socket.gethostname()} since " in refused.stderr
    assert first.stop() == 0

    gone = subprocess.Popen(["true"])
    gone.wait()
    database = Database(project / ".digest" / "state.sqlite")
    try:
        SQLiteScheduleState(database).set_holder(
            Holder(gone.pid, socket.gethostname(), dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        )
    finally:
        database.close()
    third = launch(project)
    taken = third.wait_for(lambda e: e.get("event") == "takeover")
    assert taken["pid"] == gone.pid and "2025-01-01 00:00:00 UTC" in taken["message"]
    third.wait_for(lambda e: e.get("event") == "next")
    assert third.stop(signal.SIGINT) == 0


def test_a_failing_run_is_logged_with_its_cause_and_the_next_run_tries_again(
    tmp_path: Path, launch: Callable[[Path], Scheduler]
) -> None:
    schedule = 'collect_every_minutes = 0.02\nbuild_cron = ""'
    project = make_project(tmp_path, schedule)
    scheduler = launch(project)
    scheduler.wait_for(is_run("collect"))
    broken_feed_list = '[[sources]]\nname = "Broken"\nurl = "ftp://feeds.example/rss"\n'
    make_project(tmp_path, schedule, extra=broken_feed_list)
    failed = scheduler.wait_for(is_run("collect", "failed"))
    assert "config error" in failed["message"] and "sources[1].url" in failed["message"]
    make_project(tmp_path, schedule)
    scheduler.wait_for(lambda e: is_run("collect")(e) and when(e) > when(failed))
    assert scheduler.process.poll() is None
    assert scheduler.stop() == 0

    shown = status(project)
    assert "  last run:     " in shown and ": ok: no enabled feed sources" in shown
    assert "  last problem: " in shown and "failed: config error" in shown


def test_sigterm_during_a_collect_stops_it_and_the_run_is_due_again_at_the_next_start(
    tmp_path: Path, launch: Callable[[Path], Scheduler]
) -> None:
    with FeedServer() as server:
        url = server.serve("/slow.xml", Reply(200, b"<rss/>", delay=30))
        feed = f'[[sources]]\nname = "Slow"\nurl = "{url}"\n'
        project = make_project(
            tmp_path, 'collect_every_minutes = 0.02\nbuild_cron = ""', extra=feed
        )
        scheduler = launch(project)
        deadline = time.monotonic() + 20
        while not server.hits("/slow.xml") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.hits("/slow.xml"), "the collect never reached the feed"
        stopping = time.monotonic()
        assert scheduler.stop() == 0
        assert time.monotonic() - stopping < 10  # it did not wait for the 30 s answer
        interrupted = scheduler.wait_for(is_run("collect", "interrupted"))

        server.serve("/slow.xml", Reply(200, rss("Slow", []), {"Content-Type": "text/xml"}))
        again = launch(project)
        again.wait_for(lambda e: e.get("event") == "resume")
        rerun = again.wait_for(lambda e: e.get("event") == "run" and e["job"] == "collect")
        # the interrupted run, coalesced with any that came due since
        assert rerun["result"] == "ok"
        assert when(interrupted) <= when(rerun) < again.started_at
        assert again.stop() == 0


def test_a_scheduled_send_survives_an_smtp_outage_and_a_sigterm_mid_batch(
    tmp_path: Path, launch: Callable[[Path], Scheduler]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on, for now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    readers = ["ann@example.net", "bob@example.net", "cy@example.net"]
    project = make_project(
        tmp_path,
        'collect_every_minutes = 0\nbuild_cron = "*/2 * * * * *"\nsend = true',
        extra=f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5\n'
        "[send]\nretries = 1\nretry_delay = 0.01\n",
        newsletter=f"to = {json.dumps(readers)}\n",
    )
    scheduler = launch(project)
    outage = scheduler.wait_for(is_run("daily", "failed"))
    assert "built the" in outage["message"] and "sent to 0 readers" in outage["message"]
    assert "digest send --date" in outage["message"]

    held = threading.Event()

    def slow_first_message(stage: str, address: str, n: int) -> str | None:
        if stage == "data" and n == 1:
            held.set()
            time.sleep(1.5)  # the answer to the first message takes a while
        return None

    sink = Sink(script=slow_first_message)
    server = SMTPServer(sink, port=port)
    try:
        assert held.wait(20), "the next run never sent"
        scheduler.process.send_signal(signal.SIGTERM)  # while the first message is in flight
        assert scheduler.process.wait(timeout=15) == 0
        scheduler.wait_for(is_run("daily", "interrupted"))
        assert [r.recipients for r in sink.received] == [[readers[0]]]

        again = launch(project)
        again.wait_for(lambda e: e.get("event") == "resume")
        done = again.wait_for(is_run("daily"))
        assert done["sent"] == 2 and done["already_sent"] == 1
        assert again.stop() == 0
    finally:
        server.close()
    assert sorted(a for r in sink.received for a in r.recipients) == sorted(readers)


def test_the_crontab_line_and_systemd_unit_in_the_readme_exist() -> None:
    unit = (REPO / "contrib" / "digest-schedule.service").read_text()
    assert "ExecStart=" in unit and "digest schedule" in unit and "KillSignal=SIGTERM" in unit
    readme = (REPO / "README.md").read_text()
    assert "contrib/digest-schedule.service" in readme
    assert "digest build --send" in readme
