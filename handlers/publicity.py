"""Publicity in chat: composing (/post), the "read" button, broadcast controls,
/articles for everyone and ``/stats article ID`` for the bureau (a bare or malformed
``/stats`` gets the list of figures there are)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
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

from bot.article_format import FormatProblem, check_article
from bot.config import Settings
from bot.i18n import Gettext
from bot.views.publicity import (
    ROLES,
    BroadcastCb,
    MissedCb,
    OpenArticleCb,
    PostCb,
    ReadCb,
    article_keyboard,
    articles_keyboard,
    audience_kind_keyboard,
    class_school_keyboard,
    confirm_keyboard,
    role_choice_keyboard,
    unit_choice_keyboard,
    when_keyboard,
)
from handlers.dialogue import Say, leave_button, on_leaving, replier
from handlers.stats_command import StatsOf
from quizzes.ordering import by_name
from quizzes.participants import Participant, Role
from quizzes.permissions import Permissions
from quizzes.publicity import (
    PHOTO_MAX_BYTES,
    TIME_FORMAT,
    Article,
    ArticleStatus,
    Audience,
    AudienceError,
    ControlResult,
    check_audience,
    is_photo_file,
    may_send_missed,
    parse_publish_at,
    valid_link,
)
from quizzes.units import Unit, UnitKind
from storage.models import utcnow
from storage.publicity import PublicityRepository
from storage.repositories import Repositories

if TYPE_CHECKING:
    from bot.broadcaster import Broadcaster
    from bot.scheduler import Scheduler


EXAMPLE_TIME = "YYYY-MM-DD HH:MM"


class Composing(StatesGroup):
    post = State()
    audience = State()
    when = State()
    confirm = State()


on_leaving(Composing, "publicity.compose.cancelled")


# ---------------------------------------------------------------------- reading


async def mark_read(
    callback: CallbackQuery,
    callback_data: ReadCb,
    participant: Participant,
    repo: Repositories,
    _: Gettext,
) -> None:
    publicity = PublicityRepository(repo.session)
    if await publicity.article(callback_data.article) is None:
        await callback.answer(_.plain("errors.stale_button"))
        return
    first = await publicity.mark_read(callback_data.article, participant.id, utcnow())
    await repo.commit()
    key = "publicity.read.thanks" if first else "publicity.read.already"
    await callback.answer(_.plain(key))


async def list_articles(
    message: Message, participant: Participant, repo: Repositories, _: Gettext
) -> None:
    articles = await PublicityRepository(repo.session).recent_for(participant.id)
    if not articles:
        await message.answer(_("publicity.articles.none"))
        return
    await message.answer(_("publicity.articles.list"), reply_markup=articles_keyboard(articles))


async def open_article(
    callback: CallbackQuery,
    callback_data: OpenArticleCb,
    participant: Participant,
    repo: Repositories,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    publicity = PublicityRepository(repo.session)
    mine = {a.id: a for a in await publicity.recent_for(participant.id, limit=50)}
    article = mine.get(callback_data.article)
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
    repo: Repositories,
    broadcaster: Broadcaster,
    bot: Bot,
    _: Gettext,
) -> None:
    """The button on a missed article's notice: send it now after all."""
    article = await PublicityRepository(repo.session).article(callback_data.article)
    if article is None or article.status is not ArticleStatus.MISSED:
        await callback.answer(_.plain("publicity.missed.gone"), show_alert=True)
        return
    units = await repo.units.by_ids(article.audience.unit_ids)
    await repo.commit()  # no transaction held while the broadcast is written and sent
    if not may_send_missed(article, callback.from_user.id, permissions, units):
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
    repo: Repositories,
    _: Gettext,
) -> None:
    if not permissions.is_admin:
        await message.answer(_("errors.admins_only"))
        return
    if target_id is None:
        await message.answer(_("publicity.stats.usage"))
        return
    publicity = PublicityRepository(repo.session)
    article = await publicity.article(target_id)
    if article is None:
        await message.answer(_("publicity.stats.unknown", id=target_id))
        return
    figures = await publicity.figures_by_school(article.id)
    lines = [_("publicity.stats.title", id=article.id, title=article.title)]
    for row in figures:
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
    channel_clicks = await publicity.channel_clicks(article.id)
    if channel_clicks is not None:
        lines.append(_("publicity.stats.channel_clicks", clicks=channel_clicks))
    await message.answer("\n".join(lines))


async def stats_usage(message: Message, permissions: Permissions, _: Gettext) -> None:
    """``/stats`` alone or with something unknown: which figures there are."""
    if not permissions.is_admin:
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


async def start_post(
    message: Message, permissions: Permissions, state: FSMContext, _: Gettext
) -> None:
    if not permissions.is_staff:
        await message.answer(_("publicity.compose.staff_only"))
        return
    await state.clear()
    await state.set_state(Composing.post)
    leave = InlineKeyboardMarkup(inline_keyboard=[[leave_button(_)]])
    await message.answer(_("publicity.compose.ask_post"), reply_markup=leave)


async def receive_post(
    message: Message,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    if not permissions.is_staff:
        await state.clear()
        return
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
    photo_bytes = None
    if document is not None:  # a picture sent as a file: uploaded again as a photo
        downloaded = io.BytesIO()
        await bot.download(document, destination=downloaded)
        photo_bytes = downloaded.getvalue()
    publicity = PublicityRepository(repo.session)
    article = await publicity.create_article(
        title=title,
        body=body,
        author_id=participant.telegram_id,
        link=link,
        photo_file_id=photo,
        photo_bytes=photo_bytes,
    )
    await repo.commit()
    await state.update_data(article=article.id, units=[], roles=[], kind="", when=None)
    await state.set_state(Composing.audience)
    # The preview is the article exactly as recipients will get it, buttons included.
    markup = article_keyboard(article, participant.id, _, settings.link_base)
    if photo_bytes is not None:
        # The preview uploads the picture; recipients get it by the file id it was given.
        preview = await bot.send_photo(
            message.chat.id,
            BufferedInputFile(photo_bytes, filename=(document and document.file_name) or "photo"),
            caption=article.text,
            reply_markup=markup,
        )
        if preview.photo:
            await publicity.set_photo_file_id(article.id, preview.photo[-1].file_id)
            await repo.commit()
    else:
        await send_article(bot, article, message.chat.id, markup)
    say = replier(bot, message.chat.id, None)
    own_school = await _own_school(permissions, repo)
    await say(
        _("publicity.compose.preview") + "\n" + _("publicity.compose.ask_audience"),
        audience_kind_keyboard(
            _,
            admin=permissions.is_admin,
            own_school=own_school,
            own_label=await repo.units.display_label(own_school) if own_school else None,
        ),
    )


async def _coordinated_schools(permissions: Permissions, repo: Repositories) -> list[Unit]:
    schools = await repo.units.of_kind(UnitKind.SCHOOL)
    return by_name(s for s in schools if permissions.may_manage(s))


async def _own_school(permissions: Permissions, repo: Repositories) -> Unit | None:
    """The school of a coordinator who coordinates exactly one (None for admins)."""
    if permissions.is_admin:
        return None
    schools = await _coordinated_schools(permissions, repo)
    return schools[0] if len(schools) == 1 else None


async def _classes_of(
    school_id: object, permissions: Permissions, repo: Repositories
) -> list[Unit]:
    """The classes of a school these permissions may address; none for any other."""
    if not isinstance(school_id, int):
        return []
    school = await repo.units.get(school_id)
    if school is None or school.kind is not UnitKind.SCHOOL or not permissions.may_manage(school):
        return []
    children = await repo.units.children(school.id)
    return by_name(u for u in children if u.kind is UnitKind.CLASS)


async def _choices(
    data: dict[str, Any], permissions: Permissions, repo: Repositories
) -> list[Unit]:
    kind = data.get("kind")
    if kind == "regs" and permissions.is_admin:
        return by_name(await repo.units.of_kind(UnitKind.REGIMENT))
    if kind == "schools":
        return await _coordinated_schools(permissions, repo)
    if kind == "classes":
        return await _classes_of(data.get("school"), permissions, repo)
    return []


async def _refuse(
    callback: CallbackQuery, unit_id: int, permissions: Permissions, repo: Repositories, _: Gettext
) -> None:
    """A unit that is not on offer: someone else's (a forged button) or a stale one."""
    unit = await repo.units.get(unit_id)
    if unit is not None and not permissions.may_manage(unit):
        await callback.answer(_.plain("publicity.audience.outside_school"), show_alert=True)
    else:
        await callback.answer(_.plain("errors.stale_button"))


async def _show_classes(
    callback: CallbackQuery,
    school_id: int,
    units: list[int],
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    say: Say,
    _: Gettext,
) -> None:
    classes = await _classes_of(school_id, permissions, repo)
    if not classes:
        await callback.answer(_.plain("publicity.compose.no_units"), show_alert=True)
        return
    school = await repo.units.get(school_id)
    await state.update_data(units=units, kind="classes", school=school_id)
    await callback.answer()
    several = len(await _coordinated_schools(permissions, repo)) > 1
    await say(
        _(
            "publicity.compose.choose_classes",
            school=await repo.units.display_label(school) if school else "",
        ),
        unit_choice_keyboard(classes, units, _, other_schools=several),
    )


async def post_step(
    callback: CallbackQuery,
    callback_data: PostCb,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    broadcaster: Broadcaster,
    settings: Settings,
    bot: Bot,
    _: Gettext,
    scheduler: Scheduler | None = None,
) -> None:
    data: dict[str, Any] = await state.get_data()
    article_id = data.get("article")
    if not permissions.is_staff or not isinstance(article_id, int):
        await callback.answer(_.plain("errors.stale_button"))
        return
    action = callback_data.action
    message = callback.message if isinstance(callback.message, Message) else None
    say = replier(bot, callback.from_user.id, message)
    units = list(data.get("units") or [])
    roles = list(data.get("roles") or [])
    if action == "cancel":
        await state.clear()
        await callback.answer()
        await say(_("publicity.compose.cancelled"), None)
    elif action == "all" and permissions.is_admin:
        await state.update_data(units=[], kind="all")
        await callback.answer()
        await say(_("publicity.compose.ask_roles"), role_choice_keyboard((), _))
    elif action in ("regs", "schools"):
        choices = await _choices({"kind": action}, permissions, repo)
        if not choices:
            await callback.answer(_.plain("publicity.compose.no_units"), show_alert=True)
            return
        await state.update_data(units=[], kind=action)
        await callback.answer()
        labels = await repo.units.display_labels(choices)
        await say(
            _(f"publicity.compose.choose_{action}"),
            unit_choice_keyboard(choices, (), _, labels=labels),
        )
    elif action == "myschool":
        own = await _own_school(permissions, repo)
        if own is None:
            await callback.answer(_.plain("errors.stale_button"))
            return
        await state.update_data(units=[own.id], kind="schools")
        await callback.answer()
        await say(_("publicity.compose.ask_roles"), role_choice_keyboard((), _))
    elif action == "classes":
        schools = await _coordinated_schools(permissions, repo)
        if not schools:
            await callback.answer(_.plain("publicity.compose.no_units"), show_alert=True)
            return
        kept = units if data.get("kind") == "classes" else []  # back from a school's classes
        if len(schools) == 1:
            await _show_classes(callback, schools[0].id, kept, permissions, repo, state, say, _)
            return
        await state.update_data(units=kept, kind="classes", school=None)
        await callback.answer()
        labels = await repo.units.display_labels(schools)
        await say(
            _("publicity.compose.choose_class_school"), class_school_keyboard(schools, _, labels)
        )
    elif action == "cschool":
        if data.get("kind") != "classes":
            await callback.answer(_.plain("errors.stale_button"))
            return
        if not await _classes_of(callback_data.id, permissions, repo):
            await _refuse(callback, callback_data.id, permissions, repo, _)
            return
        await _show_classes(callback, callback_data.id, units, permissions, repo, state, say, _)
    elif action == "unit":
        choices = await _choices(data, permissions, repo)
        if callback_data.id not in {u.id for u in choices}:
            await _refuse(callback, callback_data.id, permissions, repo, _)
            return
        if callback_data.id in units:
            units.remove(callback_data.id)
        else:
            units.append(callback_data.id)
        await state.update_data(units=units)
        await callback.answer()
        if message is not None:
            several = (
                data.get("kind") == "classes"
                and len(await _coordinated_schools(permissions, repo)) > 1
            )
            # Classes are shown under their school's name already: by their own names.
            shown = (
                await repo.units.display_labels(choices) if data.get("kind") == "schools" else {}
            )
            await message.edit_reply_markup(
                reply_markup=unit_choice_keyboard(
                    choices, units, _, other_schools=several, labels=shown
                )
            )
    elif action == "units_done":
        if not units:
            await callback.answer(_.plain("publicity.compose.choose_one"), show_alert=True)
            return
        await callback.answer()
        await say(_("publicity.compose.ask_roles"), role_choice_keyboard((), _))
    elif action == "role" and 0 <= callback_data.id < len(ROLES):
        role = ROLES[callback_data.id].value
        if role in roles:
            roles.remove(role)
        else:
            roles.append(role)
        await state.update_data(roles=roles)
        await callback.answer()
        if message is not None:
            chosen = [Role(r) for r in roles]
            await message.edit_reply_markup(reply_markup=role_choice_keyboard(chosen, _))
    elif action == "roles_done":
        await state.set_state(Composing.when)
        await callback.answer()
        await say(_("publicity.compose.ask_when", format=EXAMPLE_TIME), when_keyboard(_))
    elif action == "now":
        await state.update_data(when=None)
        await callback.answer()
        await _confirm(say, permissions, repo, state, settings, _)
    elif action == "channel":
        if not _may_use_channel(permissions, settings) or await state.get_state() != (
            Composing.confirm.state
        ):
            await callback.answer(_.plain("errors.stale_button"))
            return
        await state.update_data(channel=not data.get("channel"))
        await callback.answer()
        await _confirm(say, permissions, repo, state, settings, _)
    elif action == "test":
        publicity = PublicityRepository(repo.session)
        if await publicity.article(article_id) is None:
            await callback.answer(_.plain("errors.stale_button"))
            return
        await broadcaster.start_broadcast(
            article_id,
            created_by=participant.telegram_id,
            locale=participant.locale,
            progress_chat_id=None,
            test_participant_id=participant.id,
        )
        await callback.answer(_.plain("publicity.compose.test_sent"))
    elif action == "go":
        await callback.answer()
        await _publish(
            say,
            callback.from_user.id,
            participant,
            permissions,
            repo,
            state,
            broadcaster,
            settings,
            _,
            scheduler,
        )
    else:
        await callback.answer(_.plain("errors.stale_button"))


def _may_use_channel(permissions: Permissions, settings: Settings) -> bool:
    """The channel speaks for the bureau: admins may post there, when there is one."""
    return permissions.is_admin and settings.publicity_channel is not None


def _to_channel(data: dict[str, Any], permissions: Permissions, settings: Settings) -> bool:
    return bool(data.get("channel")) and _may_use_channel(permissions, settings)


def _audience(data: dict[str, Any]) -> Audience:
    units = frozenset(int(u) for u in data.get("units") or [])
    roles = frozenset(Role(r) for r in data.get("roles") or [])
    return Audience(units, roles)


async def _describe(audience: Audience, repo: Repositories, _: Gettext) -> str:
    parts = []
    if audience.unit_ids:
        names = []
        for unit_id in sorted(audience.unit_ids):
            unit = await repo.units.get(unit_id)
            if unit is None:
                continue
            names.append(await repo.units.display_label(unit))
        parts.append(_.join(names))
    else:
        parts.append(_.plain("publicity.audience.everyone"))
    if audience.roles:
        parts.append(_.join(_.plain(f"role.{r.value}") for r in ROLES if r in audience.roles))
    return " · ".join(parts)


async def _check(
    audience: Audience, permissions: Permissions, repo: Repositories
) -> AudienceError | None:
    units: dict[int, Unit] = {}
    for unit_id in audience.unit_ids:
        unit = await repo.units.get(unit_id)
        if unit is not None:
            units[unit_id] = unit
    try:
        check_audience(permissions, audience, units)
    except AudienceError as error:
        return error
    return None


async def _confirm(
    say: Say,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    settings: Settings,
    _: Gettext,
) -> None:
    data = await state.get_data()
    audience = _audience(data)
    error = await _check(audience, permissions, repo)
    if error is not None:
        await say(_(f"publicity.audience.{error.problem.value}"), None)
        await state.clear()
        return
    count = await PublicityRepository(repo.session).count_audience(audience)
    when_text = data.get("when")
    when = (
        datetime.fromisoformat(when_text).astimezone(settings.zone).strftime(TIME_FORMAT)
        if when_text
        else _.plain("publicity.compose.when_now")
    )
    await state.set_state(Composing.confirm)
    text = _(
        "publicity.compose.summary",
        audience=await _describe(audience, repo, _),
        count=count,
        when=when,
    )
    offer = _may_use_channel(permissions, settings)
    to_channel = _to_channel(data, permissions, settings)
    if to_channel:
        text += "\n" + _("publicity.compose.summary_channel", channel=settings.publicity_channel)
    await say(text, confirm_keyboard(_, to_channel if offer else None))


async def receive_time(
    message: Message,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    settings: Settings,
    bot: Bot,
    _: Gettext,
) -> None:
    try:
        when = parse_publish_at(message.text or "", settings.zone, utcnow())
    except ValueError as error:
        await message.answer(_(f"publicity.compose.problem.{error}", format=EXAMPLE_TIME))
        return
    await state.update_data(when=when.isoformat())
    await _confirm(replier(bot, message.chat.id, None), permissions, repo, state, settings, _)


async def _publish(
    say: Say,
    chat_id: int,
    participant: Participant,
    permissions: Permissions,
    repo: Repositories,
    state: FSMContext,
    broadcaster: Broadcaster,
    settings: Settings,
    _: Gettext,
    scheduler: Scheduler | None,
) -> None:
    data = await state.get_data()
    article_id = int(data["article"])
    audience = _audience(data)
    error = await _check(audience, permissions, repo)
    if error is not None:
        await say(_(f"publicity.audience.{error.problem.value}"), None)
        await state.clear()
        return
    publicity = PublicityRepository(repo.session)
    article = await publicity.article(article_id)
    if article is None or article.status is not ArticleStatus.DRAFT:
        await state.clear()
        await say(_("publicity.compose.already"), None)
        return
    to_channel = _to_channel(data, permissions, settings)
    when_text = data.get("when")
    if when_text:
        when = datetime.fromisoformat(when_text)
        if when <= utcnow():
            await state.set_state(Composing.when)
            await say(_("publicity.compose.problem.past_time"), None)
            return
        await publicity.update_article(
            article_id,
            audience=audience,
            publish_at=when,
            status=ArticleStatus.SCHEDULED,
            to_channel=to_channel,
        )
        await repo.commit()
        await state.clear()
        if scheduler is not None:
            from bot.publicity_jobs import job_id, publish_article

            scheduler.at(job_id(article_id), when, publish_article, article_id=article_id)
        shown = when.astimezone(settings.zone).strftime(TIME_FORMAT)
        await say(_("publicity.compose.scheduled", when=shown), None)
        return
    await publicity.update_article(article_id, audience=audience, to_channel=to_channel)
    await repo.commit()
    await state.clear()
    broadcast = await broadcaster.start_broadcast(
        article_id,
        created_by=participant.telegram_id,
        locale=participant.locale,
        progress_chat_id=chat_id,
    )
    if broadcast.total:
        key = "publicity.compose.started"
    else:
        key = "publicity.compose.channel_only" if to_channel else "publicity.compose.nobody"
    await say(_(key, count=broadcast.total), None)


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(mark_read, ReadCb.filter())
    router.callback_query.register(open_article, OpenArticleCb.filter())
    router.callback_query.register(control_broadcast, BroadcastCb.filter())
    router.callback_query.register(send_missed_now, MissedCb.filter())
    router.callback_query.register(post_step, PostCb.filter(), StateFilter(Composing))
    router.message.register(list_articles, Command("articles"))
    router.message.register(article_stats, Command("stats"), StatsOf("article"))
    # Everything else but ``/stats lecture ...`` (the lectures router, further on).
    router.message.register(stats_usage, Command("stats"), ~StatsOf("lecture"))
    router.message.register(start_post, Command("post"))
    router.message.register(
        receive_post,
        StateFilter(Composing.post),
        F.chat.type == "private",
        ~F.text.startswith("/"),
    )
    router.message.register(
        receive_time, StateFilter(Composing.when), F.text, ~F.text.startswith("/")
    )
    return router
