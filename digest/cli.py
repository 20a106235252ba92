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

import click

from digest.config import Config, ConfigError, find_config, load_config
from digest.models import Note

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: digest.toml in this folder or a parent).",
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
@click.option(
    "--date",
    "date_",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Issue date, YYYY-MM-DD (default: today in the newsletter's time zone).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder (default: [build] out in config). Files go to OUT/DATE/.",
)
def build(config_path: Path | None, date_: dt.datetime | None, out: Path | None) -> None:
    """Build the issue for a date: digest.html, .txt, .json and .eml."""
    from digest.pipeline import build as build_issue
    from digest.store import Database, SQLiteHistory

    config = _load(config_path)
    date = date_.date() if date_ else _today(config)
    database = Database(config.state_path)
    try:
        result = build_issue(config, date, out or config.build.out, SQLiteHistory(database))
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


@cli.command()
@CONFIG_OPTION
def collect(config_path: Path | None) -> None:
    """Read and clean every source now, and report what each one holds."""
    from digest.clean import clean
    from digest.pipeline import collect_raw

    config = _load(config_path)
    raws, notes = collect_raw(config)
    for note in notes:
        _warn(note)
    counts: dict[str, int] = {}
    for raw in raws:
        try:
            counts[raw.source_name] = counts.get(raw.source_name, 0) + len(clean(raw).items)
        except Exception as exc:
            _warn(Note("clean", raw.origin, f"could not be cleaned: {exc!r}"))
    for source in config.sources:
        state = "disabled" if not source.enabled else f"{counts.get(source.name, 0)} items"
        click.echo(f"{source.name}\t{source.location}\t{state}")


def _not_yet(name: str) -> None:
    click.echo(f"digest {name}: not available in this version yet", err=True)
    sys.exit(1)


@cli.command()
@CONFIG_OPTION
def send(config_path: Path | None) -> None:
    """Send a built issue through SMTP (not available yet)."""
    _load(config_path)
    _not_yet("send")


@cli.command()
@CONFIG_OPTION
def schedule(config_path: Path | None) -> None:
    """Run scheduled collection and daily builds (not available yet)."""
    _load(config_path)
    _not_yet("schedule")


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
    except click.Abort:
        click.echo("digest: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
