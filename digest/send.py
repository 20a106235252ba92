"""Deliver a built issue to every reader exactly once.

`send_issue` is what `digest send`, `digest build --send` and the scheduler
call. It sends the files `digest build` wrote (`OUT/DATE/digest.{json,html,txt}`),
never a fresh rendering, so what goes out is what was previewed. Each reader's
progress is kept in the send log (see `digest.sendlog` for the states and the
at-most-once choice for the window no client can close), so a run that stops
for any reason is finished by the next one without sending anyone twice.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import heapq
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from digest.config import Config
from digest.interrupts import hold_interrupts
from digest.message import Mailing
from digest.output import write_atomic
from digest.recipients import Recipient, iter_recipients, load_recipients
from digest.sendlog import SendLog, SQLiteSendLog, State
from digest.store import Database
from digest.transport import Outcome, Transport, open_transport

OUTBOX = "outbox"


class NotBuilt(Exception):
    """There is no built issue for the date: name the folder and how to build it."""


@dataclass(frozen=True)
class BuiltIssue:
    """An issue as `digest build` left it on disk: what the message needs, and its parts."""

    date: dt.date
    newsletter: str
    title: str
    subject: str
    html: str
    text: str
    folder: Path


@dataclass(frozen=True)
class Problem:
    """A reader the issue has not (surely) reached, with the last thing the server said."""

    recipient: str
    reply: str
    attempts: int


@dataclass(frozen=True)
class SendReport:
    """What a run did; `failed`, `pending` and `in_doubt` need a person's attention."""

    date: dt.date
    recipients: int
    sent: int = 0
    already_sent: int = 0
    failed: tuple[Problem, ...] = ()
    pending: tuple[Problem, ...] = ()
    in_doubt: tuple[Problem, ...] = ()
    stopped: str = ""
    outbox: Path | None = None

    @property
    def complete(self) -> bool:
        return not (self.failed or self.pending or self.in_doubt or self.stopped)


def load_built_issue(out: Path, date: dt.date) -> BuiltIssue:
    folder = out / date.isoformat()
    files = [folder / name for name in ("digest.json", "digest.html", "digest.txt")]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise NotBuilt(
            f"{folder}: the {date} issue has not been built ({', '.join(missing)} missing); "
            f"run 'digest build --date {date}' first"
        )
    try:
        data = json.loads(files[0].read_text("utf-8"))
        html, text = files[1].read_text("utf-8"), files[2].read_text("utf-8")
        return BuiltIssue(
            date=dt.date.fromisoformat(data["date"]),
            newsletter=str(data["newsletter"]),
            title=str(data["title"]),
            subject=str(data["subject"]),
            html=html,
            text=text,
            folder=folder,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NotBuilt(f"{folder}: the built issue cannot be read: {exc!r}") from exc


def envelope_sender(config: Config) -> str:
    """MAIL FROM: `[send] envelope_from` (where bounces go), else the From address."""
    given = config.send.envelope_from or config.newsletter.sender
    return email.utils.parseaddr(given)[1]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def send_issue(
    config: Config,
    date: dt.date,
    *,
    out: Path | None = None,
    to: tuple[str, ...] = (),
    dry_run: bool = False,
    resend_in_doubt: bool = False,
    database: Database | None = None,
    transport: Transport | None = None,
    on_result: Callable[[Recipient, Outcome], None] | None = None,
    clock: Callable[[], dt.datetime] = _now,
    sleep: Callable[[float], None] = time.sleep,
) -> SendReport:
    """Send the built issue of `date` to every reader who has not had it yet.

    Everything that can be checked is checked before the first message: the
    built issue, every address, the DKIM key, the transport (a missing password
    or command). `on_result` hears about every attempt, for progress display.
    """
    built = load_built_issue(out or config.build.out, date)
    mailing = Mailing(built, built.html, built.text, config)
    sign: Callable[[bytes], bytes] = lambda data: data  # noqa: E731
    if config.dkim.enabled:
        from digest.signing import Signer

        sign = Signer(config).sign

    def message_for(recipient: Recipient) -> tuple[bytes, str]:
        data, message_id = mailing.addressed(recipient.to)
        return sign(data), message_id

    if dry_run:
        return _dry_run(built, load_recipients(config, to), message_for)

    own = database is None
    db = Database(config.state_path) if database is None else database
    try:
        log = SQLiteSendLog(db, config.send.sync_interval)
        # Read, checked and recorded in one transaction: a bad address anywhere adds nobody.
        count = log.enqueue(date, iter_recipients(config, to), clock())
        if resend_in_doubt:
            log.requeue_in_doubt(date, clock())
        counts = log.counts(date)
        sent, stopped = 0, ""
        if counts["pending"]:
            transport = transport or open_transport(config)
            batch = _Batch(config, date, log, transport, message_for, clock, sleep)
            try:
                sent, stopped = batch.run(_pending(log, date), on_result)
            finally:
                transport.close()
        return _report(log, date, count, sent, counts["sent"], stopped)
    finally:
        if own:
            db.close()


PAGE = 500  # readers fetched from the send log at a time: memory does not grow with the list


def _pending(log: SendLog, date: dt.date) -> Iterator[Recipient]:
    """This run's pending readers in order, a page at a time."""
    after = 0
    while page := log.pending(date, after, PAGE):
        yield from (recipient for _, recipient in page)
        after = page[-1][0]


def _dry_run(
    built: BuiltIssue,
    recipients: tuple[Recipient, ...],
    message_for: Callable[[Recipient], tuple[bytes, str]],
) -> SendReport:
    """Each reader's exact message as OUT/DATE/outbox/NNNNN-address.eml; nothing is sent."""
    outbox = built.folder / OUTBOX
    for number, recipient in enumerate(recipients, start=1):
        name = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient.address)
        write_atomic(outbox / f"{number:05d}-{name}.eml", message_for(recipient)[0])
    return SendReport(date=built.date, recipients=len(recipients), outbox=outbox)


class _Batch:
    """The sending loop: pace, deliver, record, retry 4xx with backoff, reconnect on drops."""

    def __init__(
        self,
        config: Config,
        date: dt.date,
        log: SendLog,
        transport: Transport,
        message_for: Callable[[Recipient], tuple[bytes, str]],
        clock: Callable[[], dt.datetime],
        sleep: Callable[[float], None],
    ) -> None:
        self.settings = config.send
        self.sender = envelope_sender(config)
        self.date = date
        self.log = log
        self.transport = transport
        self.message_for = message_for
        self.clock = clock
        self.sleep = sleep

    def run(
        self, todo: Iterator[Recipient], on_result: Callable[[Recipient, Outcome], None] | None
    ) -> tuple[int, str]:
        """Send to each of `todo`; returns how many were sent and why the run stopped early."""
        again: deque[Recipient] = deque()  # readers whose connection was lost: first in line
        later: list[tuple[float, int, Recipient, int]] = []  # (when, order, recipient, tries)
        interval = 1 / self.settings.rate if self.settings.rate > 0 else 0.0
        next_at = time.monotonic()
        sent = 0
        lost = 0  # connection failures in a row
        order = 0
        while True:
            if again:
                recipient, tries = again.popleft(), 0
            elif (fresh := next(todo, None)) is not None:
                recipient, tries = fresh, 0
            elif later:
                when, _, recipient, tries = heapq.heappop(later)
                self._wait_until(when)
            else:
                return sent, ""
            if interval:
                self._wait_until(next_at)
                next_at = max(next_at + interval, time.monotonic())
            outcome = self._deliver(recipient)
            if on_result is not None:
                on_result(recipient, outcome)
            if outcome.status == "sent":
                sent += 1
            if not outcome.connection:
                lost = 0
            elif outcome.status == "retry":
                lost += 1
                if lost > self.settings.retries:
                    return sent, outcome.reply
                if lost > 1:
                    self.sleep(self.settings.retry_delay * 2 ** (lost - 2))
                again.append(recipient)  # a lost connection is not this reader's fault
                continue
            if outcome.status == "retry" and tries < self.settings.retries:
                order += 1
                delay = self.settings.retry_delay * 2**tries
                heapq.heappush(later, (time.monotonic() + delay, order, recipient, tries + 1))

    def _wait_until(self, when: float) -> None:
        wait = when - time.monotonic()
        if wait > 0:
            self.sleep(wait)

    def _deliver(self, recipient: Recipient) -> Outcome:
        data, message_id = self.message_for(recipient)

        def begin() -> None:
            self.log.begin(self.date, recipient.key, message_id, self.clock())

        with hold_interrupts():
            outcome = self.transport.deliver(self.sender, recipient.address, data, begin)
            self.log.finish(
                self.date, recipient.key, _STATE[outcome.status], outcome.reply, self.clock()
            )
        return outcome


_STATE: dict[str, State] = {
    "sent": "sent",
    "failed": "failed",
    "retry": "pending",
    "in_doubt": "sending",
}


def _report(
    log: SendLog,
    date: dt.date,
    recipients: int,
    sent: int,
    already: int,
    stopped: str,
) -> SendReport:
    by_state: dict[str, list[Problem]] = {"failed": [], "pending": [], "sending": []}
    for record in log.problems(date):
        by_state[record.state].append(Problem(record.recipient, record.reply, record.attempts))
    return SendReport(
        date=date,
        recipients=recipients,
        sent=sent,
        already_sent=already,
        failed=tuple(by_state["failed"]),
        pending=tuple(by_state["pending"]),
        in_doubt=tuple(by_state["sending"]),
        stopped=stopped,
    )


def send_status(config: Config, date: dt.date) -> dict[State, list[Problem]]:
    """Every reader of the issue by state, from the send log alone."""
    db = Database(config.state_path)
    try:
        found: dict[State, list[Problem]] = {
            state: [] for state in ("pending", "sending", "sent", "failed")
        }
        for record in SQLiteSendLog(db).records(date):
            found[record.state].append(Problem(record.recipient, record.reply, record.attempts))
        return found
    finally:
        db.close()
