"""The shell around `send_issue` for the command line: progress, the report, exit codes.

Exit 0 when every reader has the issue, 1 when some failed, are still pending
or are in doubt (each listed with the server's words), 2 when nothing could be
tried (no built issue, a bad address, no password, a bad DKIM key).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from digest.config import Config
from digest.recipients import Recipient, RecipientError
from digest.send import NotBuilt, Problem, SendReport, send_issue, send_status
from digest.signing import SigningError
from digest.transport import Outcome, TransportError

PROGRESS_EVERY = 500


def run_send(
    config: Config,
    date: dt.date,
    out: Path | None,
    to: tuple[str, ...],
    *,
    dry_run: bool,
    resend_in_doubt: bool,
) -> int:
    done = 0

    def progress(recipient: Recipient, outcome: Outcome) -> None:
        nonlocal done
        done += 1
        if outcome.status == "failed":
            click.echo(f"failed: {recipient.address}: {outcome.reply}", err=True)
        elif done % PROGRESS_EVERY == 0:
            click.echo(f"... {done} messages tried", err=True)

    try:
        report = send_issue(
            config,
            date,
            out=out,
            to=to,
            dry_run=dry_run,
            resend_in_doubt=resend_in_doubt,
            on_result=progress,
        )
    except (NotBuilt, RecipientError, TransportError, SigningError) as exc:
        click.echo(f"digest send: error: {exc}", err=True)
        return 2
    _print_report(report)
    return 0 if report.complete else 1


def _print_report(report: SendReport) -> None:
    if report.outbox is not None:
        click.echo(
            f"Dry run: wrote {report.recipients} message{'' if report.recipients == 1 else 's'}"
            f" for the {report.date} issue "
            f"to {report.outbox}; nothing was sent.",
            err=True,
        )
        click.echo(str(report.outbox))
        return
    click.echo(
        f"The {report.date} issue: {report.sent} sent now, {report.already_sent} sent before, "
        f"{len(report.failed)} failed, {len(report.pending)} pending, "
        f"{len(report.in_doubt)} in doubt, of {report.recipients} recipients.",
        err=True,
    )
    if report.stopped:
        click.echo(f"stopped early: {report.stopped}; run digest send again later", err=True)
    _list("failed", report.failed)
    _list("pending", report.pending)
    _list("in doubt", report.in_doubt)
    if report.in_doubt:
        click.echo(
            "in doubt: the server may have accepted these; check its logs, then "
            "'digest send --resend-in-doubt' sends them again",
            err=True,
        )


def _list(label: str, problems: tuple[Problem, ...]) -> None:
    for p in problems:
        click.echo(f"{label}\t{p.recipient}\t{p.attempts} attempts\t{p.reply}")


def show_status(config: Config, date: dt.date) -> int:
    """`digest send --status`: counts, then every reader not (surely) reached."""
    found = send_status(config, date)
    total = sum(len(v) for v in found.values())
    if not total:
        click.echo(f"The {date} issue has not been sent to anyone yet.")
        return 0
    click.echo(
        f"The {date} issue: {len(found['sent'])} sent, {len(found['failed'])} failed, "
        f"{len(found['pending'])} pending, {len(found['sending'])} in doubt, of {total}."
    )
    _list("failed", tuple(found["failed"]))
    _list("pending", tuple(found["pending"]))
    _list("in doubt", tuple(found["sending"]))
    return 0
