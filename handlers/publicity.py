"""Publicity in chat: composing (/post), the "read" button, broadcast controls,
/articles for everyone and ``/stats article ID`` for the bureau (a bare or malformed
``/stats`` gets the list of figures there are)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
)
from aiogram.utils.text_decorations import html_decoration

from bot.application import Clock, UnitOfWork
from bot.application.publicity import (
    ArticleFigures,
    FiguresRefusal,
    MissedRefusal,
    Publication,
    PublishRefusal,
    Reading,
    article_figures,
    article_for,
    articles_of,
    audience_summary,
    create_draft,
    draft_exists,
    keep_photo_file_id,
    mark_read,
    may_address_everyone,
    may_compose,
    may_see_figures,
    may_use_channel,
    missed_article_to_send,
    publish_draft,
)
from bot.application.read_reminders import (
    AlreadyReminded,
    ReadReminderRefusal,
    Reminded,
    remind_unread,
)
from bot.article_format import FormatProblem, check_article
from bot.config import Settings
from bot.i18n import Gettext, Translator
from bot.views.audience import ROLES
from bot.views.posting import confirm_keyboard, when_keyboard
from bot.views.publicity import (
    BroadcastCb,
    MissedCb,
    OpenArticleCb,
    PostCb,
    ReadCb,
    RemindUnreadCb,
    article_keyboard,
    articles_keyboard,
    remind_unread_keyboard,
    reminder_text,
)
from bot.views.themes import ThemeCb, themes_keyboard
from handlers.audience import AudiencePicker, Pick
from handlers.dialogue import (
    DialogueState,
    Say,
    back_button,
    leave_button,
    on_back,
    on_leaving,
    replier,
    step_keyboard,
)
from handlers.rights import Allowed
from handlers.stats_command import StatsOf
from quizzes.participants import Participant
from quizzes.permissions import Permissions
from quizzes.publicity import (
    PHOTO_MAX_BYTES,
    TIME_FORMAT,
    Article,
    Audience,
    AudienceProblem,
    ControlResult,
    is_photo_file,
    parse_publish_at,
    valid_link,
)
from quizzes.themes import Theme

if TYPE_CHECKING:
    from bot.broadcaster import Broadcaster
    from bot.scheduler import Scheduler


EXAMPLE_TIME = "YYYY-MM-DD HH:MM"


class Composing(StatesGroup):
    post = State()
    theme = State()
    audience = State()
    when = State()
    confirm = State()


on_leaving(Composing, "publicity.compose.cancelled")


# ---------------------------------------------------------------------- reading


async def read_pressed(
    callback: CallbackQuery,
    callback_data: ReadCb,
    participant: Participant,
    uow: UnitOfWork,
    clock: Clock,
    _: Gettext,
) -> None:
    reading = await mark_read(uow, callback_data.article, participant.id, now=clock())
    if reading is Reading.UNKNOWN:
        await callback.answer(_.plain("errors.stale_button"))
        return
    key = "publicity.read.thanks" if reading is Reading.FIRST else "publicity.read.already"
    await callback.answer(_.plain(key))


async def list_articles(
    message: Message, participant: Participant, uow: UnitOfWork, _: Gettext
) -> None:
    articles = await articles_of(uow, participant.id)
    if not articles:
        await message.answer(_("publicity.articles.none"))
        return
    await message.answer(_("publicity.articles.list"), reply_markup=articles_keyboard(articles))


async def open_article(
    callback: CallbackQuery,
    callback_data: OpenArticleCb,
    participant: Participant,
    uow: UnitOfWork,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    article = await article_for(uow, callback_data.article, participant.id)
    if article is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    markup = article_keyboard(article, participant.id, _, settings.link_base)
    await send_article(bot, article, callback.from_user.id, markup)


async def send_article(
    bot: Bot, article: Article, chat_id: int, markup: InlineKeyboardMarkup
) -> Message:
    if article.photo_file_id:
        return await bot.send_photo(
            chat_id, article.photo_file_id, caption=article.text, reply_markup=markup
        )
    return await bot.send_message(chat_id, article.text, reply_markup=markup)


# ---------------------------------------------------------------------- controls


async def control_broadcast(
    callback: CallbackQuery,
    callback_data: BroadcastCb,
    permissions: Permissions,
    broadcaster: Broadcaster,
    _: Gettext,
) -> None:
    result = await broadcaster.control(
        callback_data.id, callback_data.action, callback.from_user.id, permissions
    )
    if result is ControlResult.DONE:
        await callback.answer(_.plain(f"publicity.control.{callback_data.action.value}"))
    elif result is ControlResult.NOT_ALLOWED:
        await callback.answer(_.plain("publicity.control.not_allowed"), show_alert=True)
    else:
        await callback.answer(_.plain("errors.stale_button"))


async def send_missed_now(
    callback: CallbackQuery,
    callback_data: MissedCb,
    permissions: Permissions,
    uow: UnitOfWork,
    broadcaster: Broadcaster,
    bot: Bot,
    _: Gettext,
) -> None:
    """The button on a missed article's notice: send it now after all."""
    article = await missed_article_to_send(
        uow, callback_data.article, telegram_id=callback.from_user.id, viewer=permissions
    )
    if article is MissedRefusal.GONE:
        await callback.answer(_.plain("publicity.missed.gone"), show_alert=True)
        return
    if article is MissedRefusal.NOT_ALLOWED:
        await callback.answer(_.plain("publicity.control.not_allowed"), show_alert=True)
        return
    broadcast = await broadcaster.send_missed(article.id)
    if broadcast is None:
        await callback.answer(_.plain("publicity.missed.gone"), show_alert=True)
        return
    await callback.answer()
    message = callback.message if isinstance(callback.message, Message) else None
    key = "publicity.missed.sent" if broadcast.total else "publicity.compose.nobody"
    await replier(bot, callback.from_user.id, message)(
        _(key, title=article.title, count=broadcast.total), None
    )


# ---------------------------------------------------------------------- figures


async def article_stats(
    message: Message,
    target_id: int | None,
    permissions: Permissions,
    uow: UnitOfWork,
    _: Gettext,
) -> None:
    if not may_see_figures(permissions):
        await message.answer(_("errors.admins_only"))
        return
    if target_id is None:
        await message.answer(_("publicity.stats.usage"))
        return
    figures = await article_figures(uow, target_id, viewer=permissions)
    if figures is FiguresRefusal.NOT_ALLOWED:
        await message.answer(_("errors.admins_only"))
    elif figures is FiguresRefusal.UNKNOWN:
        await message.answer(_("publicity.stats.unknown", id=target_id))
    else:
        keyboard = remind_unread_keyboard(figures.article.id, _)
        await message.answer(_figures_text(figures, _), reply_markup=keyboard)


async def remind_unread_pressed(
    callback: CallbackQuery,
    callback_data: RemindUnreadCb,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    clock: Clock,
    settings: Settings,
    translator: Translator,
    _: Gettext,
) -> None:
    """The button under /stats article: the dashboard's reminder to those who have not
    read it, the same use case (once per article, reach and day)."""
    outcome = await remind_unread(
        uow,
        permissions,
        participant,
        callback_data.article,
        text=reminder_text(translator, settings.zone),
        now=clock(),
        zone=settings.zone,
    )
    if isinstance(outcome, Reminded):
        answer = _.plain("publicity.read_reminder.sent", count=outcome.reminder.recipients)
    elif isinstance(outcome, AlreadyReminded):
        earlier = outcome.reminder
        answer = _.plain(
            "publicity.read_reminder.already",
            time=earlier.sent_at.astimezone(settings.zone).strftime("%H:%M"),
            name=earlier.sent_by_name or _.plain("publicity.read_reminder.someone"),
            count=earlier.recipients,
        )
    elif outcome is ReadReminderRefusal.NOBODY:
        answer = _.plain("publicity.read_reminder.nobody")
    elif outcome is ReadReminderRefusal.UNKNOWN:
        answer = _.plain("publicity.read_reminder.gone")
    else:
        answer = _.plain("errors.admins_only")
    await callback.answer(answer, show_alert=True)


def _figures_text(figures: ArticleFigures, _: Gettext) -> str:
    article = figures.article
    lines = [_("publicity.stats.title", id=article.id, title=article.title)]
    for row in figures.by_school:
        key = "publicity.stats.total" if row.school_id is None else "publicity.stats.school"
        lines.append(
            _(
                key,
                school=row.school_name,
                delivered=row.delivered,
                read=row.read,
                clicked=row.clicked,
            )
        )
    if figures.channel_clicks is not None:
        lines.append(_("publicity.stats.channel_clicks", clicks=figures.channel_clicks))
    return "\n".join(lines)


async def stats_usage(message: Message, permissions: Permissions, _: Gettext) -> None:
    """``/stats`` alone or with something unknown: which figures there are."""
    if not may_see_figures(permissions):
        await message.answer(_("errors.admins_only"))
        return
    await message.answer(_("publicity.stats.help"))


# ---------------------------------------------------------------------- composing


def _utf16_index(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


def html_slice(text: str, entities: list[MessageEntity], start: int, end: int) -> str:
    """``text[start:end]`` with its formatting, as Telegram HTML (entities are clipped)."""
    lo, hi = _utf16_index(text, start), _utf16_index(text, end)
    kept = []
    for entity in entities:
        a, b = max(entity.offset, lo), min(entity.offset + entity.length, hi)
        if a < b:
            kept.append(entity.model_copy(update={"offset": a - lo, "length": b - a}))
    return html_decoration.unparse(text[start:end], kept)


def parse_post(message: Message) -> tuple[str, str, str | None]:
    """Title (the first line, as plain text), body (the rest, as HTML) and the link (a
    last line that is only a web address)."""
    text = message.text or message.caption or ""
    entities = list(message.entities or message.caption_entities or [])
    stripped = text.rstrip()
    first_end = stripped.find("\n")
    if first_end < 0:
        return stripped.strip(), "", None
    title = stripped[:first_end].strip()
    body_end = len(stripped)
    link = None
    last_start = stripped.rfind("\n") + 1
    candidate = stripped[last_start:].strip()
    if last_start > first_end and valid_link(candidate):
        link = candidate
        body_end = last_start
    body = html_slice(text, entities, first_end + 1, body_end).strip()
    return title, body, link


def describe_problem(problem: FormatProblem, _: Gettext) -> str:
    if problem.problem is None:
        return _("publicity.compose.bad_format", detail=problem.detail)
    return _(
        f"publicity.compose.problem.{problem.problem.value}",
        length=problem.length,
        limit=problem.limit,
    )


class PostDraft(DialogueState):
    """/post's answers besides the audience (the picker keeps that): the post as typed
    (kept until its theme is chosen, then stored as a draft article), when to send it
    (None: now) and whether to the channel too."""

    key = "post"

    title: str = ""
    body: str = ""  # Telegram HTML
    link: str | None = None
    photo: str | None = None  # a photo's file id
    document: str | None = None  # a picture sent as a file: its file id, and its name
    document_name: str = ""
    usual: Theme | None = None  # the theme to mark (the key date's, from its reminder)
    article: int = 0
    when: datetime | None = None
    channel: bool = False


async def start_post(
    message: Message, state: FSMContext, bot: Bot, _: Gettext, usual: Theme | None = None
) -> None:
    """/post; ``usual``: the theme to mark when it is asked (a key date's reminder)."""
    await state.clear()
    await PostDraft(usual=usual).save(state)
    await ask_post(replier(bot, message.chat.id, None), state, _)


async def refuse_post(message: Message, _: Gettext) -> None:
    await message.answer(_("publicity.compose.staff_only"))


async def ask_post(say: Say, state: FSMContext, _: Gettext) -> None:
    """The first step, also 返回 from the audience (a new post; the draft is left)."""
    await state.set_state(Composing.post)
    await say(_("publicity.compose.ask_post"), step_keyboard(_, back=False))


async def receive_post(message: Message, state: FSMContext, bot: Bot, _: Gettext) -> None:
    document = message.document
    if document is not None and not is_photo_file(document.file_name, document.mime_type):
        await message.answer(_("publicity.compose.not_a_photo"))
        return  # still waiting for a post
    if document is not None and (document.file_size or 0) > PHOTO_MAX_BYTES:
        await message.answer(_("publicity.compose.photo_too_big", mb=PHOTO_MAX_BYTES >> 20))
        return
    if not (message.text or message.caption or message.photo or document):
        await message.answer(_("publicity.compose.not_a_post"))
        return
    title, body, link = parse_post(message)
    photo = message.photo[-1].file_id if message.photo else None
    problem = check_article(title, body, has_photo=photo is not None or document is not None)
    if problem is not None:
        await message.answer(describe_problem(problem, _))
        return  # still waiting for a post: send a corrected one
    draft = await PostDraft.load(state)
    draft.title, draft.body, draft.link, draft.photo = title, body, link, photo
    draft.document = document.file_id if document else None
    draft.document_name = (document and document.file_name) or ""
    await draft.save(state)
    await ask_theme(replier(bot, message.chat.id, None), state, _)


async def ask_theme(say: Say, state: FSMContext, _: Gettext) -> None:
    """What the article is about, as the report counts it (also 返回 from the audience)."""
    await state.set_state(Composing.theme)
    usual = (await PostDraft.load(state)).usual
    await say(
        _("publicity.compose.ask_theme"),
        themes_keyboard(usual, _, back_button(_), leave_button(_)),
    )


async def choose_theme(
    callback: CallbackQuery,
    callback_data: ThemeCb,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    """The theme chosen: the post becomes a draft article, previewed as recipients will
    get it, and the audience is asked."""
    if callback_data.theme not in {theme.value for theme in Theme}:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    draft = await PostDraft.load(state)
    photo_bytes = None
    if draft.document is not None:  # a picture sent as a file: uploaded again as a photo
        downloaded = io.BytesIO()
        await bot.download(draft.document, destination=downloaded)
        photo_bytes = downloaded.getvalue()
    article = await create_draft(
        uow,
        title=draft.title,
        body=draft.body,
        link=draft.link,
        photo_file_id=draft.photo,
        photo_bytes=photo_bytes,
        author_id=participant.chat_id,
        viewer=permissions,
        theme=Theme(callback_data.theme),
    )
    if article is None:
        await state.clear()
        return
    draft.article = article.id
    await draft.save(state)
    chat_id = callback.from_user.id
    markup = article_keyboard(article, participant.id, _, settings.link_base)
    await _preview(bot, uow, chat_id, article, markup, photo_bytes, draft.document_name)
    await PICKER.open(replier(bot, chat_id, None), state, uow, participant, permissions, _)


async def _preview(
    bot: Bot,
    uow: UnitOfWork,
    chat_id: int,
    article: Article,
    markup: InlineKeyboardMarkup,
    photo_bytes: bytes | None,
    file_name: str,
) -> None:
    """The article exactly as recipients will get it, buttons included. A picture sent
    as a file is uploaded with it, and recipients get it by the file id it was given."""
    if photo_bytes is None:
        await send_article(bot, article, chat_id, markup)
        return
    preview = await bot.send_photo(
        chat_id,
        BufferedInputFile(photo_bytes, filename=file_name or "photo"),
        caption=article.text,
        reply_markup=markup,
    )
    if preview.photo:
        await keep_photo_file_id(uow, article.id, preview.photo[-1].file_id)


on_back(Composing.theme, Composing.post, ask_post)


async def audience_chosen(
    callback: CallbackQuery, state: FSMContext, bot: Bot, _: Gettext
) -> None:
    """The picker's last press: when to send."""
    message = callback.message if isinstance(callback.message, Message) else None
    await ask_when(replier(bot, callback.from_user.id, message), state, _)


async def ask_when(say: Say, state: FSMContext, _: Gettext) -> None:
    await state.set_state(Composing.when)
    await say(
        _("publicity.compose.ask_when", format=EXAMPLE_TIME),
        when_keyboard(_, back_button(_), leave_button(_)),
    )


PICKER = AudiencePicker(
    step=Composing.audience,
    ask="publicity.compose.ask_audience",
    finish=audience_chosen,
    rule=may_compose,
    back=ask_theme,
)
on_back(Composing.when, Composing.audience, PICKER.reopen)


async def send_now(
    callback: CallbackQuery,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    await callback.answer()
    draft = await PostDraft.load(state)
    draft.when = None
    await draft.save(state)
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    await confirm(say, permissions, uow, state, settings, _)


async def receive_time(
    message: Message,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    _: Gettext,
) -> None:
    try:
        when = parse_publish_at(message.text or "", settings.zone, clock())
    except ValueError as error:
        await message.answer(_(f"publicity.compose.problem.{error}", format=EXAMPLE_TIME))
        return
    draft = await PostDraft.load(state)
    draft.when = when
    await draft.save(state)
    await confirm(replier(bot, message.chat.id, None), permissions, uow, state, settings, _)


def _describe(audience: Audience, labels: list[str], _: Gettext) -> str:
    """Who the article goes to, as the summary says it (``labels``: its units')."""
    parts = [_.join(labels) if audience.unit_ids else _.plain("publicity.audience.everyone")]
    if audience.roles:
        parts.append(_.join(_.plain(f"role.{r.value}") for r in ROLES if r in audience.roles))
    return " · ".join(parts)


async def confirm(
    say: Say,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    _: Gettext,
) -> None:
    """Who, how many and when, to confirm (also 返回 from nowhere: the last step)."""
    draft = await PostDraft.load(state)
    audience = (await Pick.load(state)).audience
    summary = await audience_summary(uow, audience, viewer=permissions)
    if isinstance(summary, AudienceProblem):
        await say(_(f"publicity.audience.{summary.value}"), None)
        await state.clear()
        return
    when = (
        draft.when.astimezone(settings.zone).strftime(TIME_FORMAT)
        if draft.when
        else _.plain("publicity.compose.when_now")
    )
    await state.set_state(Composing.confirm)
    text = _(
        "publicity.compose.summary",
        audience=_describe(audience, summary.labels, _),
        count=summary.count,
        when=when,
    )
    offer = may_use_channel(permissions, settings.publicity_channel)
    to_channel = draft.channel and offer
    if to_channel:
        text += "\n" + _("publicity.compose.summary_channel", channel=settings.publicity_channel)
    markup = confirm_keyboard(_, back_button(_), leave_button(_), to_channel if offer else None)
    await say(text, markup)


on_back(Composing.confirm, Composing.when, ask_when)


async def toggle_channel(
    callback: CallbackQuery,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    if settings.publicity_channel is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    await callback.answer()
    draft = await PostDraft.load(state)
    draft.channel = not draft.channel
    await draft.save(state)
    message = callback.message if isinstance(callback.message, Message) else None
    await confirm(
        replier(bot, callback.from_user.id, message), permissions, uow, state, settings, _
    )


async def send_test(
    callback: CallbackQuery,
    participant: Participant,
    uow: UnitOfWork,
    state: FSMContext,
    broadcaster: Broadcaster,
    _: Gettext,
) -> None:
    draft = await PostDraft.load(state)
    if not await draft_exists(uow, draft.article):
        await callback.answer(_.plain("errors.stale_button"))
        return
    await broadcaster.start_broadcast(
        draft.article,
        created_by=participant.chat_id,
        locale=participant.locale,
        progress_chat_id=None,
        test_participant_id=participant.id,
    )
    await callback.answer(_.plain("publicity.compose.test_sent"))


async def publish(
    callback: CallbackQuery,
    participant: Participant,
    permissions: Permissions,
    uow: UnitOfWork,
    state: FSMContext,
    broadcaster: Broadcaster,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    _: Gettext,
    scheduler: Scheduler | None = None,
) -> None:
    await callback.answer()
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    draft = await PostDraft.load(state)
    published = await publish_draft(
        uow,
        draft.article,
        (await Pick.load(state)).audience,
        viewer=permissions,
        when=draft.when,
        to_channel=draft.channel,
        channel=settings.publicity_channel,
        now=clock(),
    )
    if isinstance(published, AudienceProblem):
        await say(_(f"publicity.audience.{published.value}"), None)
        await state.clear()
    elif published is PublishRefusal.ALREADY:
        await state.clear()
        await say(_("publicity.compose.already"), None)
    elif published is PublishRefusal.PAST_TIME:
        await state.set_state(Composing.when)
        await say(_("publicity.compose.problem.past_time"), None)
    elif published.when is not None:
        await state.clear()
        if scheduler is not None:
            from bot.publicity_jobs import job_id, publish_article

            article_id = published.article_id
            scheduler.at(
                job_id(article_id), published.when, publish_article, article_id=article_id
            )
        shown = published.when.astimezone(settings.zone).strftime(TIME_FORMAT)
        await say(_("publicity.compose.scheduled", when=shown), None)
    else:
        await state.clear()
        await _start_sending(say, callback.from_user.id, participant, published, broadcaster, _)


async def _start_sending(
    say: Say,
    chat_id: int,
    participant: Participant,
    published: Publication,
    broadcaster: Broadcaster,
    _: Gettext,
) -> None:
    broadcast = await broadcaster.start_broadcast(
        published.article_id,
        created_by=participant.chat_id,
        locale=participant.locale,
        progress_chat_id=chat_id,
    )
    if broadcast.total:
        key = "publicity.compose.started"
    else:
        key = (
            "publicity.compose.channel_only"
            if published.to_channel
            else "publicity.compose.nobody"
        )
    await say(_(key, count=broadcast.total), None)


async def _stale(callback: CallbackQuery, _: Gettext) -> None:
    await callback.answer(_.plain("errors.stale_button"))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(read_pressed, ReadCb.filter())
    router.callback_query.register(remind_unread_pressed, RemindUnreadCb.filter())
    router.callback_query.register(open_article, OpenArticleCb.filter())
    router.callback_query.register(control_broadcast, BroadcastCb.filter())
    router.callback_query.register(send_missed_now, MissedCb.filter())
    staff = Allowed(may_compose)

    def on(action: str, step: State, *filters: Filter) -> tuple[Any, ...]:
        return (PostCb.filter(F.action == action), StateFilter(step), staff, *filters)

    PICKER.attach(router)
    router.callback_query.register(
        choose_theme, ThemeCb.filter(), StateFilter(Composing.theme), staff
    )
    router.callback_query.register(send_now, *on("now", Composing.when))
    router.callback_query.register(publish, *on("go", Composing.confirm))
    router.callback_query.register(send_test, *on("test", Composing.confirm))
    router.callback_query.register(
        toggle_channel, *on("channel", Composing.confirm, Allowed(may_address_everyone))
    )
    # A button of another step (pressed late, or forged) changes nothing.
    router.callback_query.register(_stale, PostCb.filter())
    router.message.register(list_articles, Command("articles"))
    router.message.register(article_stats, Command("stats"), StatsOf("article"))
    # Everything else but ``/stats lecture ...`` (the lectures router, further on).
    router.message.register(stats_usage, Command("stats"), ~StatsOf("lecture"))
    router.message.register(start_post, Command("post"), staff)
    router.message.register(refuse_post, Command("post"))
    router.message.register(
        receive_post,
        StateFilter(Composing.post),
        F.chat.type == "private",
        ~F.text.startswith("/"),
        staff,
    )
    router.message.register(
        receive_time, StateFilter(Composing.when), F.text, ~F.text.startswith("/"), staff
    )
    return router
