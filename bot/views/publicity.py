"""Callback data (ids only) and keyboards of publicity: the article's own buttons and the
broadcast controls (the composer's are in :mod:`bot.views.posting`, its audience picker's
in :mod:`bot.views.audience`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Gettext, Translator
from bot.when import short_when
from quizzes.publicity import (
    CHANNEL_PARTICIPANT,
    Article,
    BroadcastAction,
    BroadcastState,
    link_token,
)


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
    """A button of /post after the audience: ``now``, ``channel``, ``test``, ``go``."""

    action: str


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


def articles_keyboard(articles: Sequence[Article]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for article in articles:
        title = article.title if len(article.title) <= 40 else article.title[:39] + "…"
        builder.button(text=title, callback_data=OpenArticleCb(article=article.id))
    builder.adjust(1)
    return builder.as_markup()
