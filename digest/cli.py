"""The command line: a thin shell over the library.

Every command takes --config; a bad flag or a bad config is one line on stderr
and exit code 2, so scripts and cron can tell a usage error from a failed run.
"""

from __future__ import annotations

import datetime as dt
import sys
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.config import Config, ConfigError, find_config, load_config
from digest.models import Note
from digest.store import StateError

if TYPE_CHECKING:
    from digest.itemstore import ItemStore

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: digest.toml in this folder or a parent).",
)


DATE_OPTION = click.option(
    "--date",
    "date_",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Issue date, YYYY-MM-DD (default: today in the newsletter's time zone).",
)


def _load(config_path: Path | None) -> Config:
    return load_config(find_config(config_path, Path.cwd()))


def _today(config: Config) -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo(config.newsletter.timezone)).date()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="digest")
def cli() -> None:
    """Turn feeds and saved articles into an email-ready daily newsletter."""


@cli.command()
@CONFIG_OPTION
@DATE_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder (default: [build] out in config). Files go to OUT/DATE/.",
)
@click.option(
    "--no-collect",
    is_flag=True,
    help="Build from the items already collected; do not fetch the feeds first.",
)
@click.option("--send", "and_send", is_flag=True, help="Send the issue once it is built.")
def build(
    config_path: Path | None,
    date_: dt.datetime | None,
    out: Path | None,
    no_collect: bool,
    and_send: bool,
) -> None:
    """Collect the feeds, then build the issue for a date: digest.html, .txt, .json and .eml."""
    from digest.itemstore import SQLiteItemStore
    from digest.pipeline import build as build_issue
    from digest.store import Database, SQLiteHistory

    config = _load(config_path)
    date = date_.date() if date_ else _today(config)
    database = Database(config.state_path)
    try:
        store = SQLiteItemStore(database)
        if not no_collect:
            _collect_feeds(config, store)
        result = build_issue(
            config,
            date,
            out or config.build.out,
            SQLiteHistory(database),
            store,
            dt.datetime.now(dt.UTC),
        )
    finally:
        database.close()
    report = result.issue.report
    for note in report.warnings:
        _warn(note)
    issue = result.issue
    lead = f"; lead: {issue.lead.title}" if issue.lead else ""
    click.echo(
        f"Built the {date} issue: {len(issue.stories)} stories in "
        f"{len(issue.sections)} sections{lead}. Report: {len(report.corrections)} corrections, "
        f"{len(report.merged)} merges, {len(report.dropped)} dropped, "
        f"{len(report.warnings)} warnings (details in digest.json).",
        err=True,
    )
    for path in result.paths:
        click.echo(str(path))
    if and_send:
        _send(config, date, out, (), dry_run=False, resend_in_doubt=False)


@cli.command()
@CONFIG_OPTION
def collect(config_path: Path | None) -> None:
    """Fetch every enabled feed now and store its new items."""
    from digest.itemstore import SQLiteItemStore
    from digest.store import Database

    config = _load(config_path)
    database = Database(config.state_path)
    try:
        _collect_feeds(config, SQLiteItemStore(database), quiet_if_none=False)
    finally:
        database.close()


def _collect_feeds(config: Config, store: ItemStore, quiet_if_none: bool = True) -> None:
    from digest.collect import collect as collect_all
    from digest.collect import feed_sources
    from digest.progress import CollectDisplay

    if not feed_sources(config):
        if not quiet_if_none:
            click.echo("No enabled feed sources (url = ...) in the config; nothing to collect.")
        return
    with CollectDisplay() as display:
        try:
            report = collect_all(
                config, store, dt.datetime.now(dt.UTC), display.start, display.feed
            )
        except KeyboardInterrupt:
            display.flush()
            click.echo(
                f"Interrupted after {display.done} feeds; the {display.new} new items "
                "they gave are stored.",
                err=True,
            )
            raise
    click.echo(report.summary(), err=True)


@cli.group(invoke_without_command=True)
@CONFIG_OPTION
@click.pass_context
def sources(ctx: click.Context, config_path: Path | None) -> None:
    """List the sources with their health; import or export them as OPML."""
    ctx.obj = config_path
    if ctx.invoked_subcommand is not None:
        return
    from digest.itemstore import SQLiteItemStore
    from digest.store import Database

    config = _load(config_path)
    database = Database(config.state_path)
    try:
        health = {h.url: h for h in SQLiteItemStore(database).health()}
    finally:
        database.close()
    for source in config.sources:
        click.echo(f"{source.name}\t{source.location}")
        state = "enabled" if source.enabled else "disabled"
        if source.url is None:
            click.echo(f"  local files, {state}")
            continue
        h = health.get(source.url)
        if h is None:
            click.echo(f"  feed, {state}, never collected")
            continue
        click.echo(
            f"  feed, {state}, {h.items_stored} items stored, "
            f"last success {_when(h.last_success)}, error streak {h.error_streak}"
        )
        if h.fetch_url != source.url:
            click.echo(f"  moved permanently to {h.fetch_url} (update the config when you can)")
        if h.last_error:
            click.echo(f"  last error {_when(h.last_error_at)}: {h.last_error}")
        if h.next_retry:
            click.echo(f"  backing off until {_when(h.next_retry)}")


@sources.command("import")
@click.argument("opml_file", type=click.Path(path_type=Path, dir_okay=False))
@CONFIG_OPTION
@click.pass_context
def sources_import(ctx: click.Context, opml_file: Path, config_path: Path | None) -> None:
    """Add the feeds of an OPML file to the config's [[sources]]."""
    from digest.opml import import_sources, read_opml

    path = find_config(config_path or ctx.obj, Path.cwd())
    feeds = read_opml(opml_file)
    added = import_sources(path, feeds)
    for feed in added:
        click.echo(f"added\t{feed.title or feed.url}\t{feed.url}")
    click.echo(
        f"Imported {len(added)} of {len(feeds)} feeds into {path} "
        f"({len(feeds) - len(added)} were already there).",
        err=True,
    )


@sources.command("export")
@CONFIG_OPTION
@click.pass_context
def sources_export(ctx: click.Context, config_path: Path | None) -> None:
    """Print the config's feeds as OPML."""
    from digest.opml import export_opml

    click.echo(export_opml(_load(config_path or ctx.obj)), nl=False)


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@cli.command()
@CONFIG_OPTION
@DATE_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder the issue was built into (default: [build] out in config).",
)
@click.option("--to", "to", multiple=True, help="Send to this address instead (repeatable).")
@click.option("--dry-run", is_flag=True, help="Write each message to OUT/DATE/outbox/ instead.")
@click.option("--status", is_flag=True, help="Show what was sent, pending, in doubt and failed.")
@click.option(
    "--resend-in-doubt",
    is_flag=True,
    help="Send again to readers whose message may or may not have been accepted.",
)
def send(
    config_path: Path | None,
    date_: dt.datetime | None,
    out: Path | None,
    to: tuple[str, ...],
    dry_run: bool,
    status: bool,
    resend_in_doubt: bool,
) -> None:
    """Send a built issue to every reader who has not had it yet."""
    config = _load(config_path)
    date = date_.date() if date_ else _today(config)
    if status:
        from digest.sendcli import show_status

        sys.exit(show_status(config, date))
    _send(config, date, out, to, dry_run=dry_run, resend_in_doubt=resend_in_doubt)


def _send(
    config: Config,
    date: dt.date,
    out: Path | None,
    to: tuple[str, ...],
    *,
    dry_run: bool,
    resend_in_doubt: bool,
) -> None:
    from digest.sendcli import run_send

    code = run_send(config, date, out, to, dry_run=dry_run, resend_in_doubt=resend_in_doubt)
    if code:
        sys.exit(code)


@cli.command()
@CONFIG_OPTION
@click.option("--list", "list_", is_flag=True, help="Print each job's next run times and exit.")
@click.option(
    "--status", is_flag=True, help="Show each job's last run, last problem and next run; exit."
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per event on stderr, as text or as JSON objects.",
)
def schedule(config_path: Path | None, list_: bool, status: bool, log_format: str) -> None:
    """Collect and build (and send) on the [schedule] in config, in the foreground."""
    from digest.schedulecli import list_lines, status_lines
    from digest.scheduler import SchedulerBusy, run_scheduler

    config = _load(config_path)
    if list_ or status:
        lines = list_lines if list_ else status_lines
        for line in lines(config, dt.datetime.now(dt.UTC)):
            click.echo(line)
        return
    try:
        run_scheduler(config, log_format)
    except SchedulerBusy as exc:
        click.echo(f"digest schedule: error: {exc}", err=True)
        sys.exit(1)


@cli.command()
@CONFIG_OPTION
@click.option("--host", help="Address to listen on (default: [serve] host, 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one (default: [serve] port, 8000).",
)
@click.option(
    "--date",
    "date_",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The issue to rebuild on change, YYYY-MM-DD (default: today in the newsletter's zone).",
)
def serve(
    config_path: Path | None, host: str | None, port: int | None, date_: dt.datetime | None
) -> None:
    """Preview the archive and issues in a browser; rebuild the issue on every change."""
    import signal

    from digest.server import serve as serve_preview

    config = _load(config_path)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    host = host or config.serve.host
    port = config.serve.port if port is None else port
    try:
        serve_preview(
            config,
            host,
            port,
            date_.date() if date_ else None,
            say=lambda line: click.echo(line, err=True),
        )
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def _warn(note: Note) -> None:
    click.echo(f"warning: {note.origin}: {note.message}", err=True)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="digest", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "digest"
        click.echo(f"{where}: error: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(2)
    except ConfigError as exc:
        click.echo(f"digest: config error: {exc}", err=True)
        sys.exit(2)
    except StateError as exc:
        click.echo(f"digest: state error: {exc}", err=True)
        sys.exit(1)
    except click.Abort:
        click.echo("digest: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
