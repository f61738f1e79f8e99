"""``pufa bank``: question banks at a terminal (template, check, import, list, bundled)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from bot.cli_support import settings_or_exit, terminal_gettext

if TYPE_CHECKING:
    from bot.config import Settings
    from quizzes.bank import BankError, BankImport, QuestionBank, StoredBank

__all__ = ["bank"]


def _parse(file: Path, _: Callable[..., str], rejected_key: str) -> QuestionBank:
    from bot.bank_messages import describe_problems
    from quizzes.bank import BankError
    from quizzes.bank_parsers import parse_bank

    try:
        return parse_bank(file.read_bytes(), file.name, _beside(file))
    except BankError as error:
        _report(error, _, rejected_key, describe_problems)
        raise SystemExit(1) from None


def _beside(file: Path) -> Callable[[str], bytes | None]:
    """Reads the picture files a bank names from the bank's own folder (and below it)."""
    folder = file.resolve().parent

    def read(name: str) -> bytes | None:
        path = (folder / name.replace("\\", "/")).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            return None
        return path.read_bytes()

    return read


def _report(
    error: BankError,
    _: Callable[..., str],
    key: str,
    describe: Callable[..., str],
) -> None:
    click.echo(_(key, count=len(error.problems)), err=True)
    click.echo(describe(error.problems, _, numbering=error.numbering, limit=1000), err=True)


@click.group()
def bank() -> None:
    """Question banks for quiz campaigns: .xlsx, .csv, .yaml, .txt or .docx files."""


@bank.command("template")
@click.argument("out", default="question-bank-template.xlsx", type=click.Path(path_type=Path))
def bank_template(out: Path) -> None:
    """Write the Excel template to fill in.

    One example row per question type, and a sheet (说明) explaining each column.
    """
    from quizzes.bank_template import bank_template_xlsx

    out.write_bytes(bank_template_xlsx())
    click.echo(str(out))


@bank.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def bank_check(file: Path) -> None:
    """Check a bank file, listing every problem.

    Exits with 1 when there is any problem; otherwise prints a summary by type and tag, and
    the questions worth a look (one that refers to a picture the quiz cannot show).
    """
    from bot.bank_messages import bank_summary, describe_problems

    _ = terminal_gettext(settings_or_exit())
    parsed = _parse(file, _, "bank.cli.check_failed")
    click.echo(_("bank.cli.check_ok", name=parsed.name, count=len(parsed.questions)))
    click.echo(bank_summary(parsed.questions, _))
    if parsed.warnings:
        click.echo(_("bank.cli.warnings", count=len(parsed.warnings)))
        click.echo(describe_problems(parsed.warnings, _, numbering=parsed.numbering, limit=1000))


@bank.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Name of the bank (default: from the file).")
def bank_import(file: Path, name: str | None) -> None:
    """Import a bank, or replace the bank of the same name.

    The whole file is checked first; a file with any problem imports nothing. The same
    file imported again under the same name changes nothing.
    """
    from dataclasses import replace

    from quizzes.bank import MAX_NAME_LENGTH, bank_sha256

    settings = settings_or_exit()
    _ = terminal_gettext(settings)
    parsed = _parse(file, _, "bank.cli.rejected")
    if name is not None:
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME_LENGTH:
            raise click.BadParameter(f"1 to {MAX_NAME_LENGTH} characters", param_hint="--name")
        parsed = replace(parsed, name=name)
    digest = bank_sha256(file.read_bytes(), parsed)
    result = asyncio.run(_import(settings, parsed, file.name, digest))
    _echo_imported(result, _)


def _echo_imported(result: BankImport, _: Callable[..., str]) -> None:
    click.echo(
        _(
            f"bank.imported.{result.status.value}",
            name=result.bank.name,
            id=result.bank.id,
            count=result.bank.question_count,
            previous=result.previous_count,
        )
    )


@bank.command("bundled")
@click.option(
    "--import",
    "keys",
    multiple=True,
    metavar="KEY",
    help="Import this bundled bank under its Chinese name (repeat it, or say 'all').",
)
def bank_bundled(keys: tuple[str, ...]) -> None:
    """List the banks shipped with the bot, or import some of them.

    Each is checked first, like a file; importing one again changes nothing.
    """
    from quizzes.bank_parsers import BUNDLED_BANKS, bundled_bank_content, load_bundled_bank

    settings = settings_or_exit()
    _ = terminal_gettext(settings)
    if not keys:
        for key in BUNDLED_BANKS:
            parsed = load_bundled_bank(key)
            click.echo(
                _("bank.cli.bundled_line", key=key, name=parsed.name, count=len(parsed.questions))
            )
        return
    chosen = list(BUNDLED_BANKS) if "all" in keys else list(dict.fromkeys(keys))
    unknown = [key for key in chosen if key not in BUNDLED_BANKS]
    if unknown:
        message = _("bank.cli.bundled_unknown", key=unknown[0], keys=", ".join(BUNDLED_BANKS))
        raise click.BadParameter(message, param_hint="--import")
    for key in chosen:
        content = bundled_bank_content(key)
        parsed = load_bundled_bank(key)
        digest = hashlib.sha256(content).hexdigest()
        _echo_imported(asyncio.run(_import(settings, parsed, f"{key}.yaml", digest)), _)


async def _import(
    settings: Settings, parsed: QuestionBank, filename: str, digest: str
) -> BankImport:
    from storage.banks import BankRepository
    from storage.database import create_engine, create_session_factory
    from storage.migrate import prepare_database

    engine = create_engine(settings.database_url)
    try:
        await prepare_database(engine)
        async with create_session_factory(engine)() as session:
            result = await BankRepository(session).import_bank(
                parsed, source_filename=filename, content_sha256=digest, imported_by=None
            )
            await session.commit()
    finally:
        await engine.dispose()
    return result


@bank.command("list")
def bank_list() -> None:
    """List the imported banks.

    One line per bank: id, name, questions, when it was imported and from which file.
    """
    settings = settings_or_exit()
    _ = terminal_gettext(settings)
    zone = ZoneInfo(settings.timezone)
    banks = asyncio.run(_list(settings))
    if not banks:
        click.echo(_("bank.cli.list_empty"))
    for stored in banks:
        click.echo(
            _(
                "bank.cli.list_line",
                id=stored.id,
                name=stored.name,
                count=stored.question_count,
                imported_at=stored.imported_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                source=stored.source_filename,
            )
        )


async def _list(settings: Settings) -> list[StoredBank]:
    from storage.banks import BankRepository
    from storage.database import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            return await BankRepository(session).list()
    finally:
        await engine.dispose()
