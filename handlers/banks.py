"""Question banks in chat: an admin sends a bank file, the bot checks it, the admin confirms.

The parsed upload is not kept: the FSM data holds the file's Telegram ``file_id``, its name
and hash under a short token, and confirming downloads and parses the file again. The
buttons carry only the token.
"""

from __future__ import annotations

import io
import secrets
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.application import UnitOfWork
from bot.application.banks import (
    UploadRefusal,
    check_upload,
    import_upload,
    may_import_banks,
)
from bot.bank_messages import bank_summary, describe_problems
from bot.i18n import Gettext
from quizzes.bank import BankError
from quizzes.bank_parsers import is_bank_filename, precheck_upload
from quizzes.permissions import Permissions

__all__ = ["BankCb", "create_router"]

PENDING_KEY = "bank_upload"
PROBLEMS_SHOWN = 20


class BankCb(CallbackData, prefix="bk"):
    """Confirm (``ok``) or cancel (``no``) the upload waiting under ``token``."""

    action: str
    token: str


def confirm_keyboard(token: str, _: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("bank.chat.confirm"), callback_data=BankCb(action="ok", token=token))
    builder.button(text=_("bank.chat.cancel"), callback_data=BankCb(action="no", token=token))
    return builder.as_markup()


def rejection(name: str, error: BankError, _: Gettext) -> str:
    head = _("bank.chat.rejected", name=name, count=len(error.problems))
    body = describe_problems(error.problems, _, numbering=error.numbering, limit=PROBLEMS_SHOWN)
    return f"{head}\n\n{body}"


async def _download(bot: Bot, file_id: str) -> bytes | None:
    buffer = io.BytesIO()
    try:
        await bot.download(file_id, destination=buffer)
    except TelegramAPIError:
        return None
    return buffer.getvalue()


async def receive_bank(
    message: Message,
    bot: Bot,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    _: Gettext,
) -> None:
    assert message.document is not None
    if not may_import_banks(permissions):
        await message.answer(_("bank.chat.not_admin"))
        return
    document = message.document
    filename = (document.file_name or "bank").strip() or "bank"
    refused = precheck_upload(filename, document.file_size)
    if refused is not None:
        await message.answer(rejection(filename, refused, _))
        return
    content = await _download(bot, document.file_id)
    if content is None:
        await message.answer(_("bank.chat.download_failed"))
        return
    checked = await check_upload(uow, content, filename)
    if isinstance(checked, BankError):
        await message.answer(rejection(filename, checked, _))
        return
    bank = checked.bank
    token = secrets.token_urlsafe(6)
    await state.update_data(
        {
            PENDING_KEY: {
                "token": token,
                "file_id": document.file_id,
                "file_name": filename,
                "name": bank.name,
                "sha256": checked.sha256,
            }
        }
    )
    lines = [
        _("bank.chat.summary", name=bank.name, count=len(bank.questions)),
        bank_summary(bank.questions, _),
    ]
    if checked.same_content:
        lines.append(_("bank.chat.same_content"))
    elif checked.existing is not None:
        lines.append(_("bank.chat.will_replace", count=checked.existing.question_count))
    if bank.warnings:
        lines += ["", _("bank.chat.warnings", count=len(bank.warnings))]
        lines.append(
            describe_problems(bank.warnings, _, numbering=bank.numbering, limit=PROBLEMS_SHOWN)
        )
    lines += ["", _("bank.chat.confirm_question")]
    await message.answer("\n".join(lines), reply_markup=confirm_keyboard(token, _))


async def _take_pending(state: FSMContext, token: str) -> dict[str, Any] | None:
    """The upload waiting under ``token``, removed from the FSM data; ``None`` if stale."""
    data = await state.get_data()
    pending = data.get(PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("token") != token:
        return None
    data.pop(PENDING_KEY)
    await state.set_data(data)
    return pending


async def answer_upload(
    callback: CallbackQuery,
    callback_data: BankCb,
    bot: Bot,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    _: Gettext,
) -> None:
    if not may_import_banks(permissions):
        await callback.answer(_.plain("errors.admins_only"))
        return
    pending = await _take_pending(state, callback_data.token)
    if pending is None:
        await callback.answer(_.plain("bank.chat.stale"))
        return
    message = callback.message if isinstance(callback.message, Message) else None
    name = str(pending["name"])
    if callback_data.action != "ok":
        await callback.answer()
        if message is not None:
            await message.edit_text(_("bank.chat.cancelled", name=name), reply_markup=None)
        return
    await callback.answer()
    text = await _import(bot, pending, callback.from_user.id, permissions, uow, _)
    if message is not None:
        await message.edit_text(text, reply_markup=None)
    else:
        await bot.send_message(callback.from_user.id, text)


async def _import(
    bot: Bot,
    pending: dict[str, Any],
    user_id: int,
    permissions: Permissions,
    uow: UnitOfWork,
    _: Gettext,
) -> str:
    filename = str(pending["file_name"])
    content = await _download(bot, str(pending["file_id"]))
    if content is None:
        return _("bank.chat.download_failed")
    result = await import_upload(
        uow,
        content,
        filename=filename,
        checked_sha256=str(pending["sha256"]),
        viewer=permissions,
        imported_by=user_id,
    )
    if result is UploadRefusal.NOT_ADMIN:
        return _("errors.admins_only")
    if isinstance(result, UploadRefusal):  # the file changed since it was checked
        return _("bank.chat.changed")
    if isinstance(result, BankError):
        return rejection(filename, result, _)
    return _(
        f"bank.imported.{result.status.value}",
        name=result.bank.name,
        id=result.bank.id,
        count=result.bank.question_count,
        previous=result.previous_count,
    )


def create_router() -> Router:
    router = Router(name=__name__)
    # A file sent during a dialogue (a poster during /post) belongs to that dialogue; outside
    # one, only files that can be banks are taken, so a photo sent as a file is not refused
    # as a bad bank.
    router.message.register(
        receive_bank,
        F.chat.type == "private",
        StateFilter(None),
        F.document.file_name.func(is_bank_filename),
    )
    router.callback_query.register(answer_upload, BankCb.filter())
    return router
