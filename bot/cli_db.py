"""``pufa db backup`` and ``pufa db restore``: a consistent copy of the database, and
putting one back (README, Production: backups)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import click

from bot.cli_support import settings_or_exit

__all__ = ["db_backup", "db_restore"]


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--run", "run_dump", is_flag=True, help="PostgreSQL: run pg_dump, not only print it."
)
def db_backup(out: Path, run_dump: bool) -> None:
    """Back up the database to OUT: SQLite with its online backup API (the bot may keep
    running); PostgreSQL: the pg_dump command line, or run it with --run."""
    from storage.backup import BackupError, pg_dump_command, sqlite_copy, sqlite_path

    settings = settings_or_exit()
    try:
        source = sqlite_path(settings.database_url)
        if source is not None:
            pages = sqlite_copy(source, out)
            click.echo(f"Backed up {source} to {out} ({pages} pages, integrity checked).")
            return
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    command, password = pg_dump_command(settings.database_url, out)
    _postgres(command, password, run_dump, "pg_dump")
    if run_dump:
        click.echo(f"Backed up to {out}.")


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--run", "run_restore", is_flag=True, help="PostgreSQL: run pg_restore.")
def db_restore(backup: Path, yes: bool, run_restore: bool) -> None:
    """Put a backup back in place of the database. Stop every bot process first."""
    from storage.backup import BackupError, pg_restore_command, sqlite_copy, sqlite_path

    settings = settings_or_exit()
    try:
        target = sqlite_path(settings.database_url)
        if target is not None:
            if not yes:
                click.confirm(f"Replace {target} with {backup}? Stop the bot first.", abort=True)
            pages = sqlite_copy(backup, target)
            click.echo(f"Restored {target} from {backup} ({pages} pages, integrity checked).")
            return
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    command, password = pg_restore_command(settings.database_url, backup)
    if run_restore and not yes:
        click.confirm(
            "Replace the database's tables with the backup's? Stop the bot first.", abort=True
        )
    _postgres(command, password, run_restore, "pg_restore")
    if run_restore:
        click.echo("Restored; run `pufa db upgrade` if the backup is older than the code.")


def _postgres(command: list[str], password: str | None, run: bool, tool: str) -> None:
    from storage.backup import shown

    if not run:
        click.echo(shown(command))
        if password:
            click.echo("(with the password in PGPASSWORD, or in ~/.pgpass)")
        return
    if shutil.which(tool) is None:
        raise click.ClickException(f"{tool} is not installed (Debian: postgresql-client)")
    environment = dict(os.environ, **({"PGPASSWORD": password} if password else {}))
    finished = subprocess.run(command, env=environment, capture_output=True, text=True)
    if finished.returncode != 0:
        raise click.ClickException(f"{tool} failed: {finished.stderr.strip()[:500]}")
