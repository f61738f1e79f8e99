"""Backups: SQLite through its online backup API (a consistent copy while the bot runs),
PostgreSQL through ``pg_dump``, whose command line is built here."""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path

from sqlalchemy.engine import URL, make_url

__all__ = ["BackupError", "pg_dump_command", "pg_restore_command", "sqlite_copy", "sqlite_path"]


class BackupError(Exception):
    pass


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite database URL; ``None`` for another database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has no file to back up")
    return Path(url.database)


def sqlite_copy(source: Path, target: Path) -> int:
    """Copy ``source`` into ``target`` page by page with SQLite's online backup API: a
    consistent snapshot even while the bot writes. Returns the pages copied."""
    if not source.exists():
        raise BackupError(f"no database file at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)
        pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
        problems = copy.execute("PRAGMA integrity_check").fetchone()[0]
    if problems != "ok":
        raise BackupError(f"the copy failed its integrity check: {problems}")
    return pages


def _libpq(url: URL) -> tuple[list[str], str | None]:
    """``pg_dump``'s connection options for ``url``, and the password (for PGPASSWORD,
    never on the command line)."""
    options = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)]
    if url.username:
        options += ["--username", url.username]
    options += ["--dbname", url.database or "postgres"]
    return options, url.password if isinstance(url.password, str) else None


def pg_dump_command(database_url: str, out: Path) -> tuple[list[str], str | None]:
    """``pg_dump`` in its custom format (compressed, restorable table by table)."""
    options, password = _libpq(make_url(database_url))
    return ["pg_dump", "--format=custom", "--no-owner", "--file", str(out), *options], password


def pg_restore_command(database_url: str, backup: Path) -> tuple[list[str], str | None]:
    options, password = _libpq(make_url(database_url))
    return ["pg_restore", "--clean", "--if-exists", "--no-owner", *options, str(backup)], password


def shown(command: list[str]) -> str:
    return shlex.join(command)
