"""Callback data (ids only) and keyboards of publicity: the article's own buttons, the
broadcast controls and the composer's audience and time choices."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import tzinfo
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Gettext, Translator
from bot.when import short_when
from quizzes.participants import Role
from quizzes.publicity import (
    CHANNEL_PARTICIPANT,
    Article,
    BroadcastAction,
    BroadcastState,
    link_token,
)
from quizzes.units import Unit


class ReadCb(CallbackData, prefix="ar"):
    """ "I have read it", under a delivered article."""

    article: int


class OpenArticleCb(CallbackData, prefix="ao"):
    """Show an article again (from /articles)."""

    article: int


class CheckinCb(CallbackData, prefix="lc"):
    """Check in to an online lecture (open while it runs)."""

    lecture: int


class BroadcastCb(CallbackData, prefix="bc"):
    id: int
    action: BroadcastAction


class PostCb(CallbackData, prefix="pp"):
    """A step of /post: ``action`` with an optional id (unit id or role index)."""

    action: str
    id: int = 0


class MissedCb(CallbackData, prefix="am"):
    """Send now an article that was missed (found beyond the scheduler's grace)."""

    article: int


class RemindUnreadCb(CallbackData, prefix="ru"):
    """Remind those who received an article and have not read it (under /stats article)."""

    article: int


def remind_unread_keyboard(article_id: int, _: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_.plain("publicity.read_reminder.button"),
        callback_data=RemindUnreadCb(article=article_id),
    )
    return builder.as_markup()


def reminder_text(
    translator: Translator, zone: tzinfo
) -> Callable[[str, Article], tuple[str, str]]:
    """A reminder to read ``article``: its title and body (Telegram HTML) in a language,
    for :func:`bot.application.read_reminders.remind_unread`."""

    def text(locale: str, article: Article) -> tuple[str, str]:
        _ = translator.bind(locale)
        sent = short_when(article.publish_at, zone, _.plain) if article.publish_at else ""
        return (
            _.plain("publicity.read_reminder.title", title=article.title),
            _("publicity.read_reminder.body", title=article.title, when=sent),
        )

    return text


def missed_keyboard(article_id: int, _: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_.plain("publicity.missed.send_now"), callback_data=MissedCb(article=article_id)
    )
    return builder.as_markup()


def tracked_url(link_base: str, article: Article, participant_id: int) -> str:
    """A reminder to read an article carries that article's link and secret, so a click
    counts for it."""
    token = link_token(article.link_secret, article.counted_as, participant_id)
    return f"{link_base}/r/{token}"


def article_markup(
    article: Article, participant_id: int, _: Gettext, link_base: str
) -> dict[str, Any]:
    """The buttons every recipient gets, as Bot API JSON: "read", and the tracked link
    when the article has one (the broadcaster sends this as it is)."""
    rows: list[list[dict[str, str]]] = [
        [
            {
                "text": _.plain("publicity.button.read"),
                "callback_data": ReadCb(article=article.counted_as).pack(),
            }
        ]
    ]
    if article.lecture_id is not None and not article.cancels_lecture:
        rows[0].append(
            {
                "text": _.plain("lecture.checkin"),
                "callback_data": CheckinCb(lecture=article.lecture_id).pack(),
            }
        )
    if article.link:
        rows.append(
            [
                {
                    "text": _.plain(_link_label(article)),
                    "url": tracked_url(link_base, article, participant_id),
                }
            ]
        )
    return {"inline_keyboard": rows}


def channel_markup(article: Article, _: Gettext, link_base: str) -> dict[str, Any] | None:
    """The buttons of a channel post: only the link (tracked as the channel's). A "read"
    button is left out: a channel's readers are not participants."""
    if not article.link:
        return None
    url = tracked_url(link_base, article, CHANNEL_PARTICIPANT)
    return {"inline_keyboard": [[{"text": _.plain(_link_label(article)), "url": url}]]}


def _link_label(article: Article) -> str:
    """A lecture's link enters the classroom; an article's opens the original."""
    return "lecture.enter" if article.lecture_id is not None else "publicity.button.open_link"


def article_keyboard(
    article: Article, participant_id: int, _: Gettext, link_base: str
) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup.model_validate(
        article_markup(article, participant_id, _, link_base)
    )


def control_keyboard(
    broadcast_id: int, state: BroadcastState, _: Gettext
) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    if state is BroadcastState.RUNNING:
        builder.button(
            text=_.plain("publicity.button.pause"),
            callback_data=BroadcastCb(id=broadcast_id, action=BroadcastAction.PAUSE),
        )
    elif state is BroadcastState.PAUSED:
        builder.button(
            text=_.plain("publicity.button.resume"),
            callback_data=BroadcastCb(id=broadcast_id, action=BroadcastAction.RESUME),
        )
    else:
        return None
    builder.button(
        text=_.plain("publicity.button.cancel"),
        callback_data=BroadcastCb(id=broadcast_id, action=BroadcastAction.CANCEL),
    )
    return builder.as_markup()


def audience_kind_keyboard(
    _: Gettext, *, admin: bool, own_school: Unit | None = None, own_label: str | None = None
) -> InlineKeyboardMarkup:
    """Everyone, regiments (admins), schools, classes; a coordinator of one school gets
    "the whole school" in place of a list of one."""
    builder = InlineKeyboardBuilder()
    if admin:
        builder.button(
            text=_.plain("publicity.compose.everyone"), callback_data=PostCb(action="all")
        )
        builder.button(
            text=_.plain("publicity.compose.by_regiment"), callback_data=PostCb(action="regs")
        )
    if own_school is not None:
        builder.button(
            text=_.plain("publicity.compose.whole_school", school=own_label or own_school.name),
            callback_data=PostCb(action="myschool"),
        )
    else:
        builder.button(
            text=_.plain("publicity.compose.by_school"), callback_data=PostCb(action="schools")
        )
    builder.button(
        text=_.plain("publicity.compose.by_class"), callback_data=PostCb(action="classes")
    )
    builder.button(text=_.plain("publicity.compose.cancel"), callback_data=PostCb(action="cancel"))
    builder.adjust(1)
    return builder.as_markup()


def class_school_keyboard(
    schools: Sequence[Unit], _: Gettext, labels: Mapping[int, str] | None = None
) -> InlineKeyboardMarkup:
    """Choosing classes, first step: whose school (``labels``: names told apart)."""
    builder = InlineKeyboardBuilder()
    for school in schools:
        text = (labels or {}).get(school.id, school.name)
        builder.button(text=text, callback_data=PostCb(action="cschool", id=school.id))
    builder.adjust(2)
    builder.row(
        InlineKeyboardButton(
            text=_.plain("publicity.compose.cancel"), callback_data=PostCb(action="cancel").pack()
        )
    )
    return builder.as_markup()


def unit_choice_keyboard(
    units: Sequence[Unit],
    chosen: Collection[int],
    _: Gettext,
    *,
    other_schools: bool = False,
    labels: Mapping[int, str] | None = None,
) -> InlineKeyboardMarkup:
    """Toggle units; with ``other_schools`` (choosing classes) a way back to the schools,
    keeping what was chosen; ``labels``: names told apart (two 中心小学)."""
    builder = InlineKeyboardBuilder()
    for unit in units:
        mark = "✅ " if unit.id in chosen else ""
        text = mark + (labels or {}).get(unit.id, unit.name)
        builder.button(text=text, callback_data=PostCb(action="unit", id=unit.id))
    builder.adjust(2)
    if other_schools:
        builder.row(
            InlineKeyboardButton(
                text=_.plain("publicity.compose.other_school"),
                callback_data=PostCb(action="classes").pack(),
            )
        )
    builder.row(
        InlineKeyboardButton(
            text=_.plain("publicity.compose.next"),
            callback_data=PostCb(action="units_done").pack(),
        ),
        InlineKeyboardButton(
            text=_.plain("publicity.compose.cancel"), callback_data=PostCb(action="cancel").pack()
        ),
    )
    return builder.as_markup()


ROLES = tuple(Role)


def role_choice_keyboard(
    chosen: Collection[Role], _: Gettext, callback: Callable[..., CallbackData] = PostCb
) -> InlineKeyboardMarkup:
    """Toggle roles (none chosen: every role), then next or cancel; ``callback`` builds
    the buttons' data (``role`` with the role's index, ``roles_done``, ``cancel``)."""
    builder = InlineKeyboardBuilder()
    for index, role in enumerate(ROLES):
        mark = "✅ " if role in chosen else ""
        builder.button(
            text=f"{mark}{_.plain(f'role.{role.value}')}",
            callback_data=callback(action="role", id=index),
        )
    builder.adjust(3)
    builder.row(
        InlineKeyboardButton(
            text=_.plain("publicity.compose.next"),
            callback_data=callback(action="roles_done").pack(),
        ),
        InlineKeyboardButton(
            text=_.plain("publicity.compose.cancel"),
            callback_data=callback(action="cancel").pack(),
        ),
    )
    return builder.as_markup()


def when_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_.plain("publicity.compose.now"), callback_data=PostCb(action="now"))
    builder.button(text=_.plain("publicity.compose.cancel"), callback_data=PostCb(action="cancel"))
    builder.adjust(1)
    return builder.as_markup()


def confirm_keyboard(_: Gettext, channel: bool | None = None) -> InlineKeyboardMarkup:
    """Send, test, cancel; ``channel`` (None: no channel to offer) toggles posting to the
    channel too."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_.plain("publicity.compose.confirm"), callback_data=PostCb(action="go"))
    if channel is not None:
        key = "publicity.compose.channel_on" if channel else "publicity.compose.channel_off"
        builder.button(text=_.plain(key), callback_data=PostCb(action="channel"))
    builder.button(text=_.plain("publicity.compose.test"), callback_data=PostCb(action="test"))
    builder.button(text=_.plain("publicity.compose.cancel"), callback_data=PostCb(action="cancel"))
    builder.adjust(1)
    return builder.as_markup()


def articles_keyboard(articles: Sequence[Article]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for article in articles:
        title = article.title if len(article.title) <= 40 else article.title[:39] + "…"
        builder.button(text=title, callback_data=OpenArticleCb(article=article.id))
    builder.adjust(1)
    return builder.as_markup()
