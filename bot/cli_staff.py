"""``pufa staff``: web accounts for staff who cannot use Telegram, at a terminal.

What the command line does is the operator's own word (as a bureau admin): this is how the
first account is made, before anyone can sign in to make others on the dashboard.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click

from bot.cli_support import settings_or_exit, terminal_gettext, unit_of_work
from bot.config import Settings

__all__ = ["staff"]

KINDS = ("admin", "coordinator", "teacher")


@click.group()
def staff() -> None:
    """Web accounts for staff without Telegram: add, list, link, disable."""


def _link_base(settings: Settings) -> str:
    return f"{settings.link_base}{settings.admin_path}"


def _warn_without_public_url(settings: Settings) -> None:
    if not settings.public_url and not settings.webhook_url:
        click.echo(terminal_gettext(settings)("web.account.cli.no_public_url"), err=True)


@staff.command("add")
@click.argument("login_name")
@click.option("--name", "display_name", required=True, help="The person's name, as shown.")
@click.option("--role", "kind", type=click.Choice(KINDS), required=True)
@click.option("--school", help="The school (id or name): a coordinator's, or a teacher's.")
@click.option("--class", "class_name", help="A teacher's class, within --school.")
def staff_add(
    login_name: str, display_name: str, kind: str, school: str | None, class_name: str | None
) -> None:
    """Open an account and print its password setup link (24 h, single use)."""
    settings = settings_or_exit()
    asyncio.run(_add(settings, login_name, display_name, kind, school, class_name))


async def _add(
    settings: Settings,
    login_name: str,
    display_name: str,
    kind: str,
    school: str | None,
    class_name: str | None,
) -> None:
    from bot.application.staff_accounts import (
        AccountKind,
        AccountRefusal,
        create_account,
        find_unit,
        setup_link,
    )

    _ = terminal_gettext(settings)
    async with unit_of_work(settings) as uow:
        unit_id = None
        if school is not None:
            unit = await find_unit(uow, school, class_name)
            if unit is None:
                raise click.ClickException(_("web.account.refusal.wrong_unit"))
            unit_id = unit.id
        created = await create_account(
            uow,
            by=None,
            by_participant=None,
            display_name=display_name,
            login_name=login_name,
            kind=AccountKind(kind),
            unit_id=unit_id,
            locale=settings.default_locale,
            now=datetime.now(UTC),
        )
    if isinstance(created, AccountRefusal):
        raise click.ClickException(_(f"web.account.refusal.{created.value}"))
    _warn_without_public_url(settings)
    link = setup_link(_link_base(settings), created.setup_token)
    kind_name = _(f"web.account.kind.{kind}")
    click.echo(_("web.account.cli.created", login=created.login_name, kind=kind_name, link=link))


@staff.command("link")
@click.argument("login_name")
@click.option(
    "--turn-off-totp", is_flag=True, help="Also turn two-step verification off (a lost phone)."
)
def staff_link(login_name: str, turn_off_totp: bool) -> None:
    """Print a new password setup link for an account (a forgotten password)."""
    settings = settings_or_exit()
    asyncio.run(_link(settings, login_name, turn_off_totp))


async def _link(settings: Settings, login_name: str, turn_off_totp: bool) -> None:
    from bot.application.staff_accounts import AccountRefusal, issue_setup_link, setup_link

    _ = terminal_gettext(settings)
    async with unit_of_work(settings) as uow:
        issued = await issue_setup_link(
            uow, login_name, by=None, now=datetime.now(UTC), turn_off_totp=turn_off_totp
        )
    if isinstance(issued, AccountRefusal):
        raise click.ClickException(_(f"web.account.refusal.{issued.value}"))
    _warn_without_public_url(settings)
    link = setup_link(_link_base(settings), issued.setup_token)
    click.echo(_("web.account.cli.link", login=issued.login_name, link=link))


@staff.command("list")
def staff_list() -> None:
    """Every account: login name, name, role, unit, two-step verification, status."""
    settings = settings_or_exit()
    asyncio.run(_list(settings))


async def _list(settings: Settings) -> None:
    from bot.application.staff_accounts import accounts

    _ = terminal_gettext(settings)
    async with unit_of_work(settings) as uow:
        lines = await accounts(uow, by=None)
    if not lines:
        click.echo(_("web.account.cli.none"))
        return
    click.echo(_("web.account.cli.header"))
    zone = settings.zone
    for line in lines:
        account = line.account
        if account.disabled_at is not None:
            day = account.disabled_at.astimezone(zone).strftime("%Y-%m-%d")
            status = _("web.account.status.disabled", date=day)
        elif account.password_hash is None:
            status = _("web.account.status.pending")
        else:
            status = _("web.account.status.active")
        kind = line.kind.value if line.kind is not None else "none"
        fields = (
            account.login_name,
            account.display_name,
            _(f"web.account.kind.{kind}"),
            line.unit_label or "",
            _("web.account.yes") if account.totp_secret else _("web.account.no"),
            status,
        )
        click.echo("\t".join(fields))


@staff.command("disable")
@click.argument("login_name")
def staff_disable(login_name: str) -> None:
    """Disable an account: its sessions end at once; its history stays."""
    settings = settings_or_exit()
    asyncio.run(_disable(settings, login_name))


async def _disable(settings: Settings, login_name: str) -> None:
    from bot.application.staff_accounts import AccountRefusal, disable_account

    _ = terminal_gettext(settings)
    async with unit_of_work(settings) as uow:
        done = await disable_account(uow, login_name, by=None, now=datetime.now(UTC))
    if isinstance(done, AccountRefusal):
        raise click.ClickException(_(f"web.account.refusal.{done.value}"))
    click.echo(_("web.account.cli.disabled", login=done.login_name))
