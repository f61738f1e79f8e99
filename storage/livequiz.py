"""Live quizzes in the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.livequiz import BoardLine, LivePoll, LiveQuiz, PlannedPoll
from storage.models import ParticipantRow
from storage.models_livequiz import LiveAnswerRow, LivePollRow, LiveQuizRow
from storage.repositories import insert_ignoring_conflicts


def _live(row: LiveQuizRow) -> LiveQuiz:
    return LiveQuiz(
        id=row.id,
        chat_id=row.chat_id,
        chat_title=row.chat_title,
        started_by=row.started_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
        seconds_per_question=row.seconds_per_question,
        question_count=row.question_count,
        current_seq=row.current_seq,
        board_message_id=row.board_message_id,
        failures=row.failures,
    )


class LiveQuizRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def running_in(self, chat_id: int) -> LiveQuiz | None:
        row = await self.session.scalar(
            select(LiveQuizRow).where(
                LiveQuizRow.chat_id == chat_id, LiveQuizRow.finished_at.is_(None)
            )
        )
        return _live(row) if row else None

    async def unfinished(self) -> list[LiveQuiz]:
        rows = await self.session.scalars(
            select(LiveQuizRow).where(LiveQuizRow.finished_at.is_(None))
        )
        return [_live(row) for row in rows]

    async def create(
        self,
        chat_id: int,
        chat_title: str | None,
        started_by: int,
        seconds: int,
        plan: list[PlannedPoll],
    ) -> LiveQuiz:
        row = LiveQuizRow(
            chat_id=chat_id,
            chat_title=chat_title[:128] if chat_title else None,
            started_by=started_by,
            seconds_per_question=seconds,
            question_count=len(plan),
            question_ids=[poll.question_id for poll in plan],
            option_orders=[list(poll.order) for poll in plan],
            current_seq=0,
            failures=0,
        )
        self.session.add(row)
        await self.session.flush()
        return _live(row)

    async def get(self, live_quiz_id: int) -> LiveQuiz | None:
        row = await self.session.get(LiveQuizRow, live_quiz_id, populate_existing=True)
        return _live(row) if row else None

    async def advance(self, live_quiz_id: int, from_seq: int) -> bool:
        """Move to the next question once, whoever (process or job) gets there first."""
        result = await self.session.execute(
            update(LiveQuizRow)
            .where(LiveQuizRow.id == live_quiz_id, LiveQuizRow.current_seq == from_seq)
            .values(current_seq=from_seq + 1)
        )
        return bool(getattr(result, "rowcount", 0))

    async def add_poll(
        self,
        live_quiz_id: int,
        seq: int,
        poll_id: str,
        question_id: int,
        correct_option: int,
        message_id: int,
        closes_at: datetime,
    ) -> None:
        self.session.add(
            LivePollRow(
                poll_id=poll_id,
                live_quiz_id=live_quiz_id,
                seq=seq,
                question_id=question_id,
                correct_option=correct_option,
                message_id=message_id,
                closes_at=closes_at,
            )
        )
        await self.session.flush()

    async def poll(self, poll_id: str) -> LivePoll | None:
        found = (
            await self.session.execute(
                select(LivePollRow, LiveQuizRow.option_orders)
                .join(LiveQuizRow, LiveQuizRow.id == LivePollRow.live_quiz_id)
                .where(LivePollRow.poll_id == poll_id)
            )
        ).one_or_none()
        if found is None:
            return None
        row, orders = found
        return LivePoll(
            poll_id=row.poll_id,
            live_quiz_id=row.live_quiz_id,
            seq=row.seq,
            question_id=row.question_id,
            correct_option=row.correct_option,
            order=tuple(orders[row.seq - 1]) if orders else None,
        )

    async def planned(self, live_quiz_id: int, seq: int) -> tuple[int, tuple[int, ...] | None]:
        """The question drawn for poll ``seq`` (1-based) when the quiz started, and the
        order of its options (None for a quiz started before options were shuffled)."""
        row = await self.session.get(LiveQuizRow, live_quiz_id)
        assert row is not None
        order = tuple(row.option_orders[seq - 1]) if row.option_orders else None
        return int(row.question_ids[seq - 1]), order

    async def open_poll_message(self, live_quiz_id: int) -> int | None:
        """The message of the quiz's latest poll, which may still be open."""
        return await self.session.scalar(
            select(LivePollRow.message_id)
            .where(LivePollRow.live_quiz_id == live_quiz_id)
            .order_by(LivePollRow.seq.desc())
            .limit(1)
        )

    async def failed(self, live_quiz_id: int, seq: int) -> int:
        """Give back the claim on step ``seq`` so the next tick tries it again, and count
        the failure; returns the failures in a row so far."""
        await self.session.execute(
            update(LiveQuizRow)
            .where(LiveQuizRow.id == live_quiz_id, LiveQuizRow.current_seq == seq + 1)
            .values(current_seq=seq, failures=LiveQuizRow.failures + 1)
        )
        failures = await self.session.scalar(
            select(LiveQuizRow.failures).where(LiveQuizRow.id == live_quiz_id)
        )
        return int(failures or 0)

    async def succeeded(self, live_quiz_id: int) -> None:
        await self.session.execute(
            update(LiveQuizRow)
            .where(LiveQuizRow.id == live_quiz_id, LiveQuizRow.failures != 0)
            .values(failures=0)
        )

    async def due(self, now: datetime, gap_s: float) -> list[tuple[int, int]]:
        """(live quiz id, seq) of quizzes whose current poll is over, or that must start."""
        rows = await self.session.execute(
            select(LiveQuizRow.id, LiveQuizRow.current_seq, LivePollRow.closes_at)
            .outerjoin(
                LivePollRow,
                (LivePollRow.live_quiz_id == LiveQuizRow.id)
                & (LivePollRow.seq == LiveQuizRow.current_seq),
            )
            .where(LiveQuizRow.finished_at.is_(None))
        )
        due = []
        for live_id, seq, closes_at in rows:
            never_sent = seq > 0 and closes_at is None  # a crash between claim and poll
            if seq == 0 or never_sent or (now - closes_at).total_seconds() >= gap_s:
                due.append((live_id, seq))
        return due

    async def record_answer(
        self, poll_id: str, participant_id: int, option: int, correct: bool, when: datetime
    ) -> bool:
        """One answer per person per poll (Telegram allows no change in a quiz poll)."""
        result = await self.session.execute(
            insert_ignoring_conflicts(self.session, LiveAnswerRow).values(
                poll_id=poll_id,
                participant_id=participant_id,
                option=option,
                correct=correct,
                answered_at=when,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def set_board(self, live_quiz_id: int, message_id: int) -> None:
        await self.session.execute(
            update(LiveQuizRow)
            .where(LiveQuizRow.id == live_quiz_id)
            .values(board_message_id=message_id)
        )

    async def finish(self, live_quiz_id: int, when: datetime) -> bool:
        result = await self.session.execute(
            update(LiveQuizRow)
            .where(LiveQuizRow.id == live_quiz_id, LiveQuizRow.finished_at.is_(None))
            .values(finished_at=when)
        )
        return bool(getattr(result, "rowcount", 0))

    async def board(self, live_quiz_id: int) -> list[BoardLine]:
        """Answers per person; a name only for people who registered (and so chose one)."""
        rows = await self.session.execute(
            select(
                LiveAnswerRow.participant_id,
                ParticipantRow.display_name,
                ParticipantRow.joined_at,
                func.sum(case((LiveAnswerRow.correct, 1), else_=0)),
                func.count(),
                func.min(LiveAnswerRow.answered_at),
            )
            .join(LivePollRow, LivePollRow.poll_id == LiveAnswerRow.poll_id)
            .join(ParticipantRow, ParticipantRow.id == LiveAnswerRow.participant_id)
            .where(LivePollRow.live_quiz_id == live_quiz_id)
            .group_by(
                LiveAnswerRow.participant_id,
                ParticipantRow.display_name,
                ParticipantRow.joined_at,
            )
        )
        return [
            BoardLine(
                pid,
                name if name and joined_at is not None else None,
                int(right or 0),
                int(answered),
                first,
            )
            for pid, name, joined_at, right, answered, first in rows
        ]
