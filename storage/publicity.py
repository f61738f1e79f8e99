"""Repository of publicity: articles, the delivery outbox, reads, clicks and figures.

The outbox is worked by :class:`bot.broadcaster.Broadcaster` through :meth:`claim`,
:meth:`record`, :meth:`release`, :meth:`renew` and :meth:`recover`; each is one short
statement, so no lock is held while Telegram answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.activities import (
    STORED_SPEAKER,
    ActivityStatus,
    Source,
    lecture_activity_titles,
    lecture_organiser,
)
from quizzes.activity_kinds import ONLINE_LECTURE, kind_named
from quizzes.lectures import Attendance, Cancellation, Lecture, LectureStatus
from quizzes.publicity import (
    Article,
    ArticleStatus,
    Audience,
    Broadcast,
    BroadcastState,
    ChannelPost,
    Delivery,
    DeliveryStatus,
    Outcome,
    Progress,
    SchoolFigures,
    new_link_secret,
)
from quizzes.themes import Theme
from quizzes.units import UnitKind
from storage.activities import counted_checkins
from storage.models import BigId, ParticipantRow, UnitRow, UTCDateTime, utcnow
from storage.models_activities import ActivityRow
from storage.models_class_reminders import ClassReminderArticleRow
from storage.models_publicity import (
    ArticleReadRow,
    ArticleRow,
    BroadcastRow,
    ChannelPostRow,
    DeliveryRow,
    LectureCheckinRow,
    LectureRow,
    LinkClickRow,
)
from storage.repositories import insert_ignoring_conflicts

DELIVERIES: Table = DeliveryRow.__table__  # type: ignore[assignment]
CHANNEL_POSTS: Table = ChannelPostRow.__table__  # type: ignore[assignment]
PENDING = DeliveryStatus.PENDING.value
SENDING = DeliveryStatus.SENDING.value
# broadcasts.progress_message_id while the first progress message is on its way.
SENDING_FIRST = 0
# The bureau's day when a caller names no time zone (``PUFA_TIMEZONE``'s default).
BUREAU_ZONE = ZoneInfo("Asia/Shanghai")


def _article(row: ArticleRow) -> Article:
    return Article(
        id=row.id,
        title=row.title,
        body=row.body,
        photo_file_id=row.photo_file_id,
        has_photo=row.photo_file_id is not None or row.photo_bytes is not None,
        link=row.link,
        audience=Audience.from_json(row.audience),
        author_id=row.author_id,
        created_at=row.created_at,
        publish_at=row.publish_at,
        status=ArticleStatus(row.status),
        link_secret=row.link_secret,
        lecture_id=row.lecture_id,
        to_channel=row.to_channel,
        cancels_lecture=row.cancels_lecture,
        reminder_of=row.reminder_of,
        theme=Theme(row.theme),
    )


def _channel_post(row: Any) -> ChannelPost:
    return ChannelPost(
        id=row.id,
        broadcast_id=row.broadcast_id,
        chat=row.chat,
        status=DeliveryStatus(row.status),
        message_id=row.message_id,
        error=row.error,
    )


def _broadcast(row: BroadcastRow) -> Broadcast:
    return Broadcast(
        id=row.id,
        article_id=row.article_id,
        state=BroadcastState(row.state),
        created_by=row.created_by,
        locale=row.locale,
        total=row.total,
        test_send=row.test_send,
        progress_chat_id=row.progress_chat_id,
        progress_message_id=row.progress_message_id,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def audience_filter(audience: Audience, unit_paths: Sequence[str]) -> list[ColumnElement[bool]]:
    """WHERE terms picking the audience among participants joined to their unit."""
    terms: list[ColumnElement[bool]] = []
    if audience.unit_ids:
        if not unit_paths:
            return [literal(False)]
        terms.append(
            or_(*(UnitRow.path.startswith(path, autoescape=False) for path in unit_paths))
        )
    if audience.roles:
        terms.append(ParticipantRow.role.in_(sorted(r.value for r in audience.roles)))
    return terms


def is_publicity() -> ColumnElement[bool]:
    """An article that is publicity: not a lecture's notice, not a class's quiz reminder,
    not a reminder to read an article."""
    return and_(
        ArticleRow.lecture_id.is_(None),
        ArticleRow.reminder_of.is_(None),
        ArticleRow.id.not_in(select(ClassReminderArticleRow.article_id)),
    )


class PublicityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def commit(self) -> None:
        await self.session.commit()

    # ------------------------------------------------------------------ articles

    async def create_article(
        self,
        *,
        title: str,
        body: str,
        author_id: int,
        audience: Audience | None = None,
        link: str | None = None,
        photo_file_id: str | None = None,
        photo_bytes: bytes | None = None,
        publish_at: datetime | None = None,
        status: ArticleStatus = ArticleStatus.DRAFT,
        lecture_id: int | None = None,
        to_channel: bool = False,
        cancels_lecture: bool = False,
        reminder_of: Article | None = None,
        theme: Theme | None = None,
    ) -> Article:
        """A new article; ``reminder_of``: a reminder to read that one, with its link and
        link secret, so that a read or a click counts for it.

        Without a ``theme``: a reminder's is its article's, a lecture's notice its
        lecture's (its activity's; 宪法 for a lecture without one), any other 其他."""
        if theme is None:
            if reminder_of is not None:
                theme = reminder_of.theme
            elif lecture_id is not None:
                theme = await self._lecture_theme(lecture_id)
            else:
                theme = Theme.OTHER
        row = ArticleRow(
            title=title,
            body=body,
            author_id=author_id,
            audience=(audience or Audience()).to_json(),
            link=link,
            photo_file_id=photo_file_id,
            photo_bytes=photo_bytes,
            publish_at=publish_at,
            status=status.value,
            link_secret=new_link_secret() if reminder_of is None else reminder_of.link_secret,
            created_at=utcnow(),
            lecture_id=lecture_id,
            to_channel=to_channel,
            cancels_lecture=cancels_lecture,
            theme=theme.value,
        )
        if reminder_of is not None:
            row.link = reminder_of.link
            row.reminder_of = reminder_of.id
        self.session.add(row)
        await self.session.flush()
        return _article(row)

    async def _lecture_theme(self, lecture_id: int) -> Theme:
        value = await self.session.scalar(
            select(ActivityRow.theme)
            .join(LectureRow, LectureRow.activity_id == ActivityRow.id)
            .where(LectureRow.id == lecture_id)
        )
        return Theme(value) if value is not None else Theme.CONSTITUTION

    async def article(self, article_id: int) -> Article | None:
        row = await self.session.get(ArticleRow, article_id)
        return _article(row) if row else None

    async def update_article(
        self,
        article_id: int,
        *,
        audience: Audience | None = None,
        publish_at: datetime | None = None,
        status: ArticleStatus | None = None,
        to_channel: bool | None = None,
    ) -> Article | None:
        row = await self.session.get(ArticleRow, article_id)
        if row is None:
            return None
        if audience is not None:
            row.audience = audience.to_json()
        if to_channel is not None:
            row.to_channel = to_channel
        if publish_at is not None:
            row.publish_at = publish_at
        if status is not None:
            row.status = status.value
        await self.session.flush()
        return _article(row)

    async def photo_bytes(self, article_id: int) -> bytes | None:
        value: bytes | None = await self.session.scalar(
            select(ArticleRow.photo_bytes).where(ArticleRow.id == article_id)
        )
        return value

    async def set_photo_file_id(self, article_id: int, file_id: str) -> None:
        await self.session.execute(
            update(ArticleRow)
            .where(ArticleRow.id == article_id, ArticleRow.photo_file_id.is_(None))
            .values(photo_file_id=file_id)
        )

    async def recent_for(self, participant_id: int, limit: int = 10) -> list[Article]:
        """The latest articles delivered to this participant, newest first; a reminder to
        read one is left out (it points at that article, which is listed)."""
        delivered = (
            select(BroadcastRow.article_id, func.max(DeliveryRow.sent_at).label("at"))
            .join(DeliveryRow, DeliveryRow.broadcast_id == BroadcastRow.id)
            .where(
                DeliveryRow.participant_id == participant_id,
                DeliveryRow.status == DeliveryStatus.SENT.value,
            )
            .group_by(BroadcastRow.article_id)
            .subquery()
        )
        rows = await self.session.scalars(
            select(ArticleRow)
            .join(delivered, delivered.c.article_id == ArticleRow.id)
            .where(ArticleRow.reminder_of.is_(None))
            .order_by(delivered.c.at.desc(), ArticleRow.id.desc())
            .limit(limit)
        )
        return [_article(row) for row in rows]

    async def published_since(self, since: datetime, limit: int = 100) -> list[Article]:
        """Articles published since ``since`` (publicity: not a lecture's notices, not a
        class's quiz reminder, not reminders to read one), newest first; the caller picks
        those whose audience takes in a reader."""
        rows = await self.session.scalars(
            select(ArticleRow)
            .where(
                ArticleRow.status == ArticleStatus.PUBLISHED.value,
                ArticleRow.publish_at >= since,
                is_publicity(),
            )
            .order_by(ArticleRow.publish_at.desc(), ArticleRow.id.desc())
            .limit(limit)
        )
        return [_article(row) for row in rows]

    async def recent_articles(self, limit: int = 20) -> list[Article]:
        rows = await self.session.scalars(
            select(ArticleRow)
            .where(ArticleRow.status != ArticleStatus.DRAFT.value)
            .order_by(ArticleRow.id.desc())
            .limit(limit)
        )
        return [_article(row) for row in rows]

    # ------------------------------------------------------------------ audiences

    async def _unit_paths(self, audience: Audience) -> list[str]:
        if not audience.unit_ids:
            return []
        rows = await self.session.scalars(
            select(UnitRow.path).where(UnitRow.id.in_(sorted(audience.unit_ids)))
        )
        return list(rows)

    def _recipients(self, audience: Audience, paths: Sequence[str]) -> Select[Any]:
        query = select(ParticipantRow.id).where(
            ParticipantRow.telegram_id.is_not(None),  # web participants have no chat
            ParticipantRow.joined_at.is_not(None),
            ParticipantRow.subscribed.is_(True),
            ParticipantRow.blocked_at.is_(None),
        )
        if audience.unit_ids:
            query = query.join(UnitRow, UnitRow.id == ParticipantRow.unit_id)
        return query.where(*audience_filter(audience, paths))

    async def count_audience(self, audience: Audience) -> int:
        paths = await self._unit_paths(audience)
        query = self._recipients(audience, paths).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(query)) or 0)

    # ------------------------------------------------------------------ broadcasts

    async def start_broadcast(
        self,
        article_id: int,
        *,
        created_by: int,
        locale: str,
        progress_chat_id: int | None,
        test_participant_id: int | None = None,
        now: datetime | None = None,
        channel: str | None = None,
        recipients: Select[int] | None = None,
    ) -> Broadcast:
        """Create the broadcast and one pending delivery per recipient, in this transaction.

        The recipients are chosen by one ``INSERT ... SELECT`` from participants: joined,
        subscribed, not blocked, in the audience; or the participant ids ``recipients``
        selects (a lecture's cancellation goes to those its announcement reached). A test
        send goes to one participant.
        An article meant for the channel also gets its pending :class:`ChannelPost` to
        ``channel`` (the configured one), or a failed one when none is configured; a
        test send never goes to the channel.
        """
        now = now or utcnow()
        article = await self.session.get(ArticleRow, article_id)
        if article is None:
            raise LookupError(f"no article {article_id}")
        row = BroadcastRow(
            article_id=article_id,
            state=BroadcastState.RUNNING.value,
            created_by=created_by,
            locale=locale,
            test_send=test_participant_id is not None,
            progress_chat_id=progress_chat_id,
            created_at=now,
            started_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        if test_participant_id is not None:
            chosen = select(ParticipantRow.id).where(ParticipantRow.id == test_participant_id)
        elif recipients is not None:
            chosen = recipients
        else:
            audience = Audience.from_json(article.audience)
            chosen = self._recipients(audience, await self._unit_paths(audience))
        source = (
            select(
                literal(row.id, BigId),
                ParticipantRow.id,
                ParticipantRow.telegram_id,
                ParticipantRow.locale,
                literal(PENDING),
                literal(0, BigId),
            )
            .where(ParticipantRow.id.in_(chosen), ParticipantRow.telegram_id.is_not(None))
            .order_by(ParticipantRow.id)
        )
        await self.session.execute(
            insert(DELIVERIES).from_select(
                ["broadcast_id", "participant_id", "chat_id", "locale", "status", "attempts"],
                source,
            )
        )
        total = await self.session.scalar(
            select(func.count()).where(DeliveryRow.broadcast_id == row.id)
        )
        row.total = int(total or 0)
        if test_participant_id is None and article.to_channel:
            self.session.add(
                ChannelPostRow(
                    broadcast_id=row.id,
                    chat=channel,
                    status=PENDING if channel else DeliveryStatus.FAILED.value,
                    error=None if channel else "no channel configured",
                    attempts=0,
                )
            )
        if test_participant_id is None:
            article.status = ArticleStatus.PUBLISHED.value
            if article.publish_at is None:
                article.publish_at = now
        await self.session.flush()
        return _broadcast(row)

    async def scheduled_articles(self) -> list[Article]:
        rows = await self.session.scalars(
            select(ArticleRow)
            .where(ArticleRow.status == ArticleStatus.SCHEDULED.value)
            .order_by(ArticleRow.publish_at, ArticleRow.id)
        )
        return [_article(row) for row in rows]

    async def miss_overdue(
        self, now: datetime, grace: timedelta, *, article_id: int | None = None
    ) -> list[Article]:
        """Mark missed every scheduled article (or only ``article_id``) due more than
        ``grace`` before ``now``: such an article is not sent late. Claimed by the status
        flip, so each is returned (and its author told) once."""
        query = update(ArticleRow).where(
            ArticleRow.status == ArticleStatus.SCHEDULED.value,
            ArticleRow.publish_at < now - grace,
        )
        if article_id is not None:
            query = query.where(ArticleRow.id == article_id)
        ids = await self.session.scalars(
            query.values(status=ArticleStatus.MISSED.value)
            .returning(ArticleRow.id)
            .execution_options(synchronize_session=False)
        )
        missed = []
        for missed_id in sorted(ids):
            article = await self.article(missed_id)
            if article is not None:
                missed.append(article)
        return missed

    async def missed_articles(self) -> list[Article]:
        rows = await self.session.scalars(
            select(ArticleRow)
            .where(ArticleRow.status == ArticleStatus.MISSED.value)
            .order_by(ArticleRow.publish_at, ArticleRow.id)
        )
        return [_article(row) for row in rows]

    async def send_missed(
        self, article_id: int, now: datetime, locale: str, *, channel: str | None = None
    ) -> Broadcast | None:
        """Send a missed article now, as its author's broadcast; ``None`` when it is not
        (or no longer) missed."""
        claimed = await self.session.execute(
            update(ArticleRow)
            .where(ArticleRow.id == article_id, ArticleRow.status == ArticleStatus.MISSED.value)
            .values(status=ArticleStatus.PUBLISHED.value)
            .returning(ArticleRow.author_id)
            .execution_options(synchronize_session=False)
        )
        author = claimed.scalar_one_or_none()
        if author is None:
            return None
        return await self.start_broadcast(
            article_id,
            created_by=author,
            locale=locale,
            progress_chat_id=author or None,
            now=now,
            channel=channel,
        )

    async def publish_due(
        self,
        now: datetime,
        locale: str,
        *,
        grace: timedelta | None = None,
        due_before: datetime | None = None,
        article_id: int | None = None,
        channel: str | None = None,
    ) -> list[Broadcast]:
        """Start a broadcast for every scheduled article due by ``due_before`` (``now``
        by default), or only for ``article_id``; with ``grace``, none due more than that
        before ``now`` (those are :meth:`miss_overdue`'s).

        The article is claimed by flipping its status in the same transaction that writes
        the deliveries, so however many processes look, each article goes out once.
        """
        query = update(ArticleRow).where(
            ArticleRow.status == ArticleStatus.SCHEDULED.value,
            ArticleRow.publish_at <= (due_before or now),
        )
        if grace is not None:
            query = query.where(ArticleRow.publish_at >= now - grace)
        if article_id is not None:
            query = query.where(ArticleRow.id == article_id)
        claimed = await self.session.execute(
            query.values(status=ArticleStatus.PUBLISHED.value)
            .returning(ArticleRow.id, ArticleRow.author_id)
            .execution_options(synchronize_session=False)
        )
        started = []
        for article_id, author in claimed.all():
            started.append(
                await self.start_broadcast(
                    article_id,
                    created_by=author,
                    locale=locale,
                    progress_chat_id=author,
                    now=now,
                    channel=channel,
                )
            )
        return started

    async def broadcast(self, broadcast_id: int) -> Broadcast | None:
        row = await self.session.get(BroadcastRow, broadcast_id)
        return _broadcast(row) if row else None

    async def active_broadcasts(self) -> list[Broadcast]:
        rows = await self.session.scalars(
            select(BroadcastRow)
            .where(
                BroadcastRow.state.in_([BroadcastState.RUNNING.value, BroadcastState.PAUSED.value])
            )
            .order_by(BroadcastRow.id)
        )
        return [_broadcast(row) for row in rows]

    async def set_state(
        self, broadcast_id: int, expected: BroadcastState, new: BroadcastState, now: datetime
    ) -> bool:
        """Move a broadcast from ``expected`` to ``new``; ``False`` if it was not there."""
        values: dict[str, Any] = {"state": new.value}
        if new.final:
            values["finished_at"] = now
        result = await self.session.execute(
            update(BroadcastRow)
            .where(BroadcastRow.id == broadcast_id, BroadcastRow.state == expected.value)
            .values(**values)
            .returning(BroadcastRow.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def progress(self, broadcast_id: int) -> Progress:
        rows = await self.session.execute(
            select(DeliveryRow.status, func.count())
            .where(DeliveryRow.broadcast_id == broadcast_id)
            .group_by(DeliveryRow.status)
        )
        return Progress.from_counts({status: count for status, count in rows})

    async def finish_if_complete(self, broadcast_id: int, now: datetime) -> bool:
        """Mark a running broadcast done once nothing is pending or in flight, its
        channel post included."""
        left = await self.session.scalar(
            select(func.count()).where(
                DeliveryRow.broadcast_id == broadcast_id,
                DeliveryRow.status.in_([PENDING, SENDING]),
            )
        )
        channel_left = await self.session.scalar(
            select(func.count()).where(
                CHANNEL_POSTS.c.broadcast_id == broadcast_id,
                CHANNEL_POSTS.c.status.in_([PENDING, SENDING]),
            )
        )
        if left or channel_left:
            return False
        return await self.set_state(broadcast_id, BroadcastState.RUNNING, BroadcastState.DONE, now)

    async def take_progress_turn(
        self, broadcast_id: int, now: datetime, every_s: float, *, force: bool = False
    ) -> bool:
        """Claim the next progress edit: one process edits it, at most every ``every_s``."""
        query = update(BroadcastRow).where(
            BroadcastRow.id == broadcast_id, BroadcastRow.progress_chat_id.is_not(None)
        )
        if not force:
            query = query.where(
                or_(
                    BroadcastRow.progress_at.is_(None),
                    BroadcastRow.progress_at <= now - timedelta(seconds=every_s),
                )
            )
        result = await self.session.execute(
            query.values(progress_at=now)
            .returning(BroadcastRow.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def claim_progress_message(self, broadcast_id: int) -> bool:
        """Claim sending the first progress message (marked :data:`SENDING_FIRST` until
        its id is known), so two processes never both send one."""
        result = await self.session.execute(
            update(BroadcastRow)
            .where(BroadcastRow.id == broadcast_id, BroadcastRow.progress_message_id.is_(None))
            .values(progress_message_id=SENDING_FIRST)
            .returning(BroadcastRow.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def release_progress_message(self, broadcast_id: int) -> None:
        """Give up the claim of :meth:`claim_progress_message` (the send failed), so
        that the next turn sends the first progress message again."""
        await self.session.execute(
            update(BroadcastRow)
            .where(
                BroadcastRow.id == broadcast_id,
                BroadcastRow.progress_message_id == SENDING_FIRST,
            )
            .values(progress_message_id=None)
            .execution_options(synchronize_session=False)
        )

    async def failure_reasons(self, broadcast_id: int, limit: int = 3) -> list[tuple[str, int]]:
        """What Telegram answered to the failed deliveries (blocked ones aside), the most
        frequent first: ``(error, how many)``."""
        count = func.count().label("n")
        rows = await self.session.execute(
            select(DeliveryRow.error, count)
            .where(
                DeliveryRow.broadcast_id == broadcast_id,
                DeliveryRow.status == DeliveryStatus.FAILED.value,
            )
            .group_by(DeliveryRow.error)
            .order_by(count.desc(), DeliveryRow.error)
            .limit(limit)
        )
        return [(error or "", int(n)) for error, n in rows]

    async def set_progress_message(self, broadcast_id: int, message_id: int) -> None:
        await self.session.execute(
            update(BroadcastRow)
            .where(BroadcastRow.id == broadcast_id)
            .values(progress_message_id=message_id)
            .execution_options(synchronize_session=False)
        )

    # ------------------------------------------------------------------ the outbox

    async def claim(self, claimer: str, limit: int, now: datetime) -> list[Delivery]:
        """Take up to ``limit`` pending deliveries of running broadcasts for ``claimer``.

        PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` in a CTE, so processes sharing
        the database never claim the same row and never wait for each other. SQLite has
        one writer at a time, so one ``UPDATE ... RETURNING`` is the whole claim.
        """
        running = select(BroadcastRow.id).where(BroadcastRow.state == BroadcastState.RUNNING.value)
        picked = (
            select(DELIVERIES.c.id)
            .where(DELIVERIES.c.status == PENDING, DELIVERIES.c.broadcast_id.in_(running))
            .order_by(DELIVERIES.c.id)
            .limit(limit)
        )
        values = {"status": SENDING, "claimed_by": claimer, "claimed_at": now}
        returning = (
            DELIVERIES.c.id,
            DELIVERIES.c.broadcast_id,
            DELIVERIES.c.participant_id,
            DELIVERIES.c.chat_id,
            DELIVERIES.c.locale,
        )
        if self._postgres:
            cte = picked.with_for_update(skip_locked=True).cte("picked")
            # id = ANY(one array of the picked ids): a primary-key lookup, where a join
            # with the CTE can turn into a nested loop over the whole table while the
            # statistics do not know yet about the rows just inserted.
            picked_ids = cast(
                select(func.array_agg(cte.c.id)).scalar_subquery(),
                postgresql.ARRAY(BigInteger),
            )
            statement = (
                update(DELIVERIES)
                .where(DELIVERIES.c.id == any_(picked_ids), DELIVERIES.c.status == PENDING)
                .values(**values)
                .returning(*returning)
            )
        else:
            statement = (
                update(DELIVERIES)
                .where(DELIVERIES.c.id.in_(picked.scalar_subquery()))
                .values(**values)
                .returning(*returning)
            )
        rows = (await self.session.execute(statement)).all()
        deliveries = [Delivery(*row) for row in rows]
        deliveries.sort(key=lambda d: d.id)
        return deliveries

    async def record(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Write what Telegram answered, for many deliveries in one round trip."""
        if not outcomes:
            return
        statement = (
            update(DELIVERIES)
            .where(DELIVERIES.c.id == bindparam("b_id"))
            .values(
                status=bindparam("b_status"),
                message_id=bindparam("b_message_id", type_=BigId),
                error=bindparam("b_error"),
                sent_at=bindparam("b_at", type_=UTCDateTime()),
                attempts=DELIVERIES.c.attempts + bindparam("b_attempts", type_=BigId),
            )
        )
        await self.session.execute(
            statement,
            [
                {
                    "b_id": o.delivery.id,
                    "b_status": o.status.value,
                    "b_message_id": o.message_id,
                    "b_error": (o.error or "")[:255] or None,
                    "b_at": now,
                    "b_attempts": o.attempts,
                }
                for o in outcomes
            ],
        )
        blocked = sorted(
            {o.delivery.participant_id for o in outcomes if o.status is DeliveryStatus.BLOCKED}
        )
        if blocked:
            await self.session.execute(
                update(ParticipantRow)
                .where(ParticipantRow.id.in_(blocked), ParticipantRow.blocked_at.is_(None))
                .values(blocked_at=now)
                .execution_options(synchronize_session=False)
            )

    async def release(self, claimer: str, delivery_ids: Iterable[int]) -> None:
        """Give claimed rows back (their broadcast was paused or cancelled)."""
        ids = sorted(delivery_ids)
        if not ids:
            return
        await self.session.execute(
            update(DELIVERIES)
            .where(
                DELIVERIES.c.id.in_(ids),
                DELIVERIES.c.status == SENDING,
                DELIVERIES.c.claimed_by == claimer,
            )
            .values(status=PENDING, claimed_by=None, claimed_at=None)
        )

    async def renew(self, claimer: str, now: datetime) -> None:
        """Extend the lease of everything this claimer holds."""
        for table in (DELIVERIES, CHANNEL_POSTS):
            await self.session.execute(
                update(table)
                .where(table.c.status == SENDING, table.c.claimed_by == claimer)
                .values(claimed_at=now)
            )

    async def recover(self, now: datetime, lease_s: float, is_dead: Callable[[str], bool]) -> int:
        """Put rows claimed by a dead process, or whose lease ran out, back to pending
        (deliveries and channel posts alike)."""
        recovered = 0
        for table in (DELIVERIES, CHANNEL_POSTS):
            claimers = await self.session.scalars(
                select(table.c.claimed_by).where(table.c.status == SENDING).distinct()
            )
            dead = sorted(c for c in claimers if c is not None and is_dead(c))
            expired = table.c.claimed_at < now - timedelta(seconds=lease_s)
            condition = or_(table.c.claimed_by.in_(dead), expired) if dead else expired
            result = await self.session.execute(
                update(table)
                .where(and_(table.c.status == SENDING, condition))
                .values(status=PENDING, claimed_by=None, claimed_at=None)
                .returning(table.c.id)
            )
            recovered += len(result.all())
        return recovered

    # ------------------------------------------------------------------ the channel

    async def claim_channel_posts(self, claimer: str, now: datetime) -> list[ChannelPost]:
        """Take the pending channel posts of running broadcasts for ``claimer``.

        One conditional ``UPDATE ... RETURNING``: a row another process claimed first no
        longer matches ``status = 'pending'`` (PostgreSQL re-checks it after the row
        lock), so each post is claimed once.
        """
        running = select(BroadcastRow.id).where(BroadcastRow.state == BroadcastState.RUNNING.value)
        rows = await self.session.execute(
            update(CHANNEL_POSTS)
            .where(CHANNEL_POSTS.c.status == PENDING, CHANNEL_POSTS.c.broadcast_id.in_(running))
            .values(status=SENDING, claimed_by=claimer, claimed_at=now)
            .returning(*CHANNEL_POSTS.c)
        )
        return sorted((_channel_post(row) for row in rows), key=lambda p: p.id)

    async def record_channel_post(
        self,
        post_id: int,
        status: DeliveryStatus,
        attempts: int,
        now: datetime,
        *,
        message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        await self.session.execute(
            update(CHANNEL_POSTS)
            .where(CHANNEL_POSTS.c.id == post_id)
            .values(
                status=status.value,
                message_id=message_id,
                error=(error or "")[:255] or None,
                sent_at=now,
                attempts=CHANNEL_POSTS.c.attempts + attempts,
                claimed_by=None,
            )
        )

    async def release_channel_post(self, claimer: str, post_id: int) -> None:
        await self.session.execute(
            update(CHANNEL_POSTS)
            .where(
                CHANNEL_POSTS.c.id == post_id,
                CHANNEL_POSTS.c.status == SENDING,
                CHANNEL_POSTS.c.claimed_by == claimer,
            )
            .values(status=PENDING, claimed_by=None, claimed_at=None)
        )

    async def channel_post(self, broadcast_id: int) -> ChannelPost | None:
        row = (
            await self.session.execute(
                select(CHANNEL_POSTS).where(CHANNEL_POSTS.c.broadcast_id == broadcast_id)
            )
        ).first()
        return _channel_post(row) if row is not None else None

    # ------------------------------------------------------------------ reads and clicks

    async def mark_read(self, article_id: int, participant_id: int, now: datetime) -> bool:
        """Record that a participant read an article; ``False`` if they already had."""
        result = await self.session.execute(
            insert_ignoring_conflicts(self.session, ArticleReadRow)
            .values(article_id=article_id, participant_id=participant_id, read_at=now)
            .returning(ArticleReadRow.id)
        )
        return result.first() is not None

    async def record_click(
        self, article_id: int, participant_id: int, token: str, now: datetime
    ) -> bool:
        """Count a click on an article's link; ``True`` for the participant's first."""
        result = await self.session.execute(
            insert_ignoring_conflicts(self.session, LinkClickRow)
            .values(
                article_id=article_id,
                participant_id=participant_id,
                token=token,
                clicks=1,
                clicked_at=now,
                last_clicked_at=now,
            )
            .returning(LinkClickRow.id)
        )
        if result.first() is not None:
            return True
        await self.session.execute(
            update(LinkClickRow)
            .where(
                LinkClickRow.article_id == article_id,
                LinkClickRow.participant_id == participant_id,
            )
            .values(clicks=LinkClickRow.clicks + 1, last_clicked_at=now)
            .execution_options(synchronize_session=False)
        )
        return False

    async def record_channel_click(self, article_id: int) -> None:
        """Count a click on the link of the article's channel post (readers unknown)."""
        await self.session.execute(
            update(ArticleRow)
            .where(ArticleRow.id == article_id)
            .values(channel_clicks=ArticleRow.channel_clicks + 1)
        )

    async def channel_clicks(self, article_id: int) -> int | None:
        """Clicks on the link of the article's channel post; None if it was never posted
        to a channel."""
        posted = (
            select(ChannelPostRow.id)
            .join(BroadcastRow, BroadcastRow.id == ChannelPostRow.broadcast_id)
            .where(BroadcastRow.article_id == article_id, ChannelPostRow.status == "sent")
            .exists()
        )
        clicks = await self.session.scalar(
            select(ArticleRow.channel_clicks).where(ArticleRow.id == article_id, posted)
        )
        return None if clicks is None else int(clicks)

    async def participant_exists(self, participant_id: int) -> bool:
        found = await self.session.scalar(
            select(ParticipantRow.id).where(ParticipantRow.id == participant_id)
        )
        return found is not None

    # ------------------------------------------------------------------ figures

    async def figures_by_school(self, article_id: int) -> list[SchoolFigures]:
        """Delivered, read and clicked (unique participants) per school, then the total.

        Each figure is one ``GROUP BY`` over the school whose path prefixes the
        participant's unit; test sends are not deliveries.
        """
        school = (
            select(UnitRow.id, UnitRow.name, UnitRow.path)
            .where(UnitRow.kind == UnitKind.SCHOOL.value)
            .subquery()
        )
        member = UnitRow.__table__.alias("member")

        delivered = (
            select(DeliveryRow.participant_id.label("pid"))
            .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
            .where(
                BroadcastRow.article_id == article_id,
                BroadcastRow.test_send.is_(False),
                DeliveryRow.status == DeliveryStatus.SENT.value,
            )
            .subquery()
        )
        read = (
            select(ArticleReadRow.participant_id.label("pid"))
            .where(ArticleReadRow.article_id == article_id)
            .subquery()
        )
        clicked = (
            select(LinkClickRow.participant_id.label("pid"))
            .where(LinkClickRow.article_id == article_id)
            .subquery()
        )
        figures: dict[int, dict[str, int]] = {}
        names: dict[int, str] = {}
        totals: dict[str, int] = {}
        for name, people in (("delivered", delivered), ("read", read), ("clicked", clicked)):
            by_school = (
                select(school.c.id, school.c.name, func.count(func.distinct(people.c.pid)))
                .select_from(people)
                .join(ParticipantRow, ParticipantRow.id == people.c.pid)
                .join(member, member.c.id == ParticipantRow.unit_id)
                .join(school, member.c.path.startswith(school.c.path, autoescape=False))
                .group_by(school.c.id, school.c.name)
            )
            for school_id, school_name, count in await self.session.execute(by_school):
                names[school_id] = school_name
                figures.setdefault(school_id, {})[name] = int(count)
            total = await self.session.scalar(
                select(func.count(func.distinct(people.c.pid))).select_from(people)
            )
            totals[name] = int(total or 0)
        result = [
            SchoolFigures(
                school_id,
                names[school_id],
                values.get("delivered", 0),
                values.get("read", 0),
                values.get("clicked", 0),
            )
            for school_id, values in sorted(figures.items(), key=lambda kv: names[kv[0]])
        ]
        result.append(
            SchoolFigures(None, "", totals["delivered"], totals["read"], totals["clicked"])
        )
        return result


def _lecture(row: LectureRow) -> Lecture:
    return Lecture(
        id=row.id,
        title=row.title,
        speaker=row.speaker,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        link=row.link,
        audience=Audience.from_json(row.audience),
        created_by=row.created_by,
        status=LectureStatus(row.status),
    )


class LectureRepository:
    """Online lectures: scheduling (with their announcement and reminder articles),
    check-ins and attendance."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        title: str,
        speaker: str,
        starts_at: datetime,
        ends_at: datetime,
        link: str | None,
        audience: Audience,
        created_by: int,
        zone: tzinfo = BUREAU_ZONE,
        theme: Theme | None = None,
    ) -> Lecture:
        """Store the lecture and its activity (kind ``online_lecture``, held on the day
        it starts in the bureau's ``zone``, of ``theme`` or the kind's usual one)."""
        row = LectureRow(
            title=title,
            speaker=speaker,
            starts_at=starts_at,
            ends_at=ends_at,
            link=link,
            audience=audience.to_json(),
            created_by=created_by,
            created_at=utcnow(),
            status=LectureStatus.SCHEDULED.value,
        )
        self.session.add(row)
        await self.session.flush()
        row.activity_id = await self._record_activity(
            row, zone, theme or kind_named(ONLINE_LECTURE).default_theme
        )
        await self.session.flush()
        return _lecture(row)

    async def _record_activity(self, row: LectureRow, zone: tzinfo, theme: Theme) -> int | None:
        """The lecture's activity: confirmed (only staff schedule a lecture, and the bot
        counts its check-ins itself), organised by the unit its audience is in
        (:func:`quizzes.activities.lecture_organiser`); ``None`` without any unit."""
        audience = Audience.from_json(row.audience)
        paths = list(
            await self.session.scalars(
                select(UnitRow.path).where(UnitRow.id.in_(sorted(audience.unit_ids)))
            )
        )
        roots = list(
            await self.session.scalars(select(UnitRow.id).where(UnitRow.parent_id.is_(None)))
        )
        organiser = lecture_organiser(paths, roots)
        if organiser is None:
            return None
        recorder = await self.session.scalar(
            select(ParticipantRow.id).where(ParticipantRow.telegram_id == row.created_by)
        )
        local = row.starts_at.astimezone(zone)
        for title in lecture_activity_titles(row.title, local, row.id):
            activity_id: int | None = await self.session.scalar(
                insert_ignoring_conflicts(self.session, ActivityRow)
                .values(
                    kind=ONLINE_LECTURE,
                    theme=theme.value,
                    held_on=local.date(),
                    title=title,
                    unit_id=organiser,
                    students=0,
                    teachers=0,
                    parents=0,
                    speaker=row.speaker[:STORED_SPEAKER],
                    speaker_organisation="",
                    status=ActivityStatus.CONFIRMED.value,
                    source=Source.LECTURE.value,
                    recorded_by=recorder,
                    recorded_at=row.created_at,
                    reviewed_by=recorder,
                    reviewed_at=row.created_at,
                    review_note="",
                )
                .returning(ActivityRow.id)
            )
            if activity_id is not None:
                return activity_id
        raise RuntimeError(f"lecture {row.id}: no free title for its activity")

    async def get(self, lecture_id: int) -> Lecture | None:
        row = await self.session.get(LectureRow, lecture_id)
        return _lecture(row) if row else None

    async def upcoming(self, now: datetime, limit: int = 20) -> list[Lecture]:
        rows = await self.session.scalars(
            select(LectureRow)
            .where(
                LectureRow.ends_at >= now,
                LectureRow.status == LectureStatus.SCHEDULED.value,
            )
            .order_by(LectureRow.starts_at)
            .limit(limit)
        )
        return [_lecture(row) for row in rows]

    async def cancel(self, lecture_id: int, now: datetime) -> Cancellation | None:
        """Cancel a scheduled lecture with its reminders not yet sent and its broadcasts
        still under way, in this transaction; ``None`` when it was not scheduled."""
        claimed = await self.session.execute(
            update(LectureRow)
            .where(
                LectureRow.id == lecture_id,
                LectureRow.status == LectureStatus.SCHEDULED.value,
            )
            .values(status=LectureStatus.CANCELLED.value)
            .returning(LectureRow.id)
            .execution_options(synchronize_session=False)
        )
        if claimed.first() is None:
            return None
        await self.session.execute(
            update(ActivityRow)
            .where(
                ActivityRow.id
                == select(LectureRow.activity_id)
                .where(LectureRow.id == lecture_id)
                .scalar_subquery()
            )
            .values(status=ActivityStatus.CANCELLED.value)
            .execution_options(synchronize_session=False)
        )
        reminders = await self.session.scalars(
            update(ArticleRow)
            .where(
                ArticleRow.lecture_id == lecture_id,
                ArticleRow.status == ArticleStatus.SCHEDULED.value,
            )
            .values(status=ArticleStatus.CANCELLED.value)
            .returning(ArticleRow.id)
            .execution_options(synchronize_session=False)
        )
        reminder_ids = tuple(sorted(reminders))
        articles = select(ArticleRow.id).where(ArticleRow.lecture_id == lecture_id)
        broadcasts = await self.session.scalars(
            update(BroadcastRow)
            .where(
                BroadcastRow.article_id.in_(articles),
                BroadcastRow.state.in_(
                    [BroadcastState.RUNNING.value, BroadcastState.PAUSED.value]
                ),
            )
            .values(state=BroadcastState.CANCELLED.value, finished_at=now)
            .returning(BroadcastRow.id)
            .execution_options(synchronize_session=False)
        )
        broadcast_ids = tuple(sorted(broadcasts))
        row = await self.session.get(LectureRow, lecture_id, populate_existing=True)
        assert row is not None
        return Cancellation(_lecture(row), reminder_ids, broadcast_ids)

    def told(self, lecture_id: int, locale: str | None = None) -> Select[int]:
        """The participants the lecture's announcement or reminder reached, or is
        reaching right now (a test send aside), who have not blocked the bot: those to
        tell if it is cancelled; with ``locale``, those of them who speak it. A message
        being sent as the lecture is cancelled may still arrive, so its recipient is
        told too."""
        reached = (
            select(DeliveryRow.participant_id)
            .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
            .join(ArticleRow, ArticleRow.id == BroadcastRow.article_id)
            .where(
                ArticleRow.lecture_id == lecture_id,
                ArticleRow.cancels_lecture.is_(False),
                BroadcastRow.test_send.is_(False),
                DeliveryRow.status.in_([DeliveryStatus.SENT.value, DeliveryStatus.SENDING.value]),
            )
        )
        told = select(ParticipantRow.id).where(
            ParticipantRow.id.in_(reached), ParticipantRow.blocked_at.is_(None)
        )
        return told if locale is None else told.where(ParticipantRow.locale == locale)

    async def told_locales(self, lecture_id: int) -> list[str]:
        """The languages of :meth:`told`, each once."""
        rows = await self.session.scalars(
            self.told(lecture_id)
            .with_only_columns(ParticipantRow.locale)
            .distinct()
            .order_by(ParticipantRow.locale)
        )
        return list(rows)

    async def check_in(self, lecture_id: int, participant_id: int, now: datetime) -> bool:
        """Record attendance; ``False`` when the participant had checked in already."""
        result = await self.session.execute(
            insert_ignoring_conflicts(self.session, LectureCheckinRow)
            .values(lecture_id=lecture_id, participant_id=participant_id, checked_in_at=now)
            .returning(LectureCheckinRow.id)
        )
        return result.first() is not None

    async def checked_in_at(
        self, participant_id: int, lecture_ids: Sequence[int]
    ) -> dict[int, datetime]:
        """When the participant checked in to each of these lectures they checked in to."""
        if not lecture_ids:
            return {}
        rows = await self.session.execute(
            select(LectureCheckinRow.lecture_id, LectureCheckinRow.checked_in_at).where(
                LectureCheckinRow.participant_id == participant_id,
                LectureCheckinRow.lecture_id.in_(lecture_ids),
            )
        )
        return {lecture_id: at for lecture_id, at in rows}

    async def attendance(self, lecture_id: int) -> list[Attendance]:
        """Check-ins by school and role, one ``GROUP BY``; people outside any school
        are counted under ``school_id`` None. Those that count
        (:func:`storage.activities.counted_checkins`), as in the report."""
        school = (
            select(UnitRow.id, UnitRow.name, UnitRow.path)
            .where(UnitRow.kind == UnitKind.SCHOOL.value)
            .subquery()
        )
        member = UnitRow.__table__.alias("member")
        query = (
            counted_checkins(school.c.id, school.c.name, ParticipantRow.role, func.count())
            .outerjoin(member, member.c.id == ParticipantRow.unit_id)
            .outerjoin(school, member.c.path.startswith(school.c.path, autoescape=False))
            .where(LectureCheckinRow.lecture_id == lecture_id)
            .group_by(school.c.id, school.c.name, ParticipantRow.role)
        )
        rows = await self.session.execute(query)
        result = [
            Attendance(school_id, school_name or "", role, int(count))
            for school_id, school_name, role, count in rows
        ]
        result.sort(key=lambda a: (a.school_id is None, a.school_name, a.role or ""))
        return result
