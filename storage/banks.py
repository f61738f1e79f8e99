"""Question banks in the database: import (create, replace, or leave alone), read."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quizzes.bank import (
    BankImport,
    Difficulty,
    ImportStatus,
    Level,
    Picture,
    Question,
    QuestionBank,
    QuestionType,
    StoredBank,
    StoredQuestion,
)
from storage.models import utcnow
from storage.models_quiz import AttemptQuestionRow
from storage.models_quiz_bank import QuestionBankRow, QuestionPictureRow, QuestionRow

__all__ = ["BankRepository", "stored_question"]


def _bank(row: QuestionBankRow) -> StoredBank:
    return StoredBank(
        id=row.id,
        name=row.name,
        version_note=row.version_note,
        source_filename=row.source_filename,
        content_sha256=row.content_sha256,
        question_count=row.question_count,
        imported_by=row.imported_by,
        imported_at=row.imported_at,
    )


def stored_question(row: QuestionRow) -> StoredQuestion:
    return StoredQuestion(
        id=row.id,
        bank_id=row.bank_id,
        position=row.position,
        type=QuestionType(row.type),
        stem=row.stem,
        options=tuple(str(option) for option in row.options),
        correct=frozenset(int(index) for index in row.correct),
        explanation=row.explanation,
        tags=tuple(str(tag) for tag in row.tags),
        difficulty=Difficulty(row.difficulty),
        source=row.source,
        level=Level(row.level),
        picture_sha256=row.picture_sha256,
    )


def _values(question: Question) -> dict[str, Any]:
    return {
        "type": question.type.value,
        "stem": question.stem,
        "options": list(question.options),
        "correct": sorted(question.correct),
        "explanation": question.explanation,
        "tags": list(question.tags),
        "source": question.source,
        "picture_sha256": question.picture.sha256 if question.picture is not None else None,
    }


def _grading(question: Question) -> dict[str, Any]:
    """Whom a question is for rather than what it asks: a change here keeps the question's
    row, even after attempts asked it."""
    return {"difficulty": int(question.difficulty), "level": int(question.level)}


class BankRepository:
    """Reads and writes question banks; the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def import_bank(
        self,
        bank: QuestionBank,
        *,
        source_filename: str,
        content_sha256: str,
        imported_by: int | None,
    ) -> BankImport:
        """Create the bank, or replace the questions of the bank with the same name.

        Questions are replaced position by position in the caller's transaction. One that
        no attempt has asked yet is updated in place (its id survives); one already asked
        is retired unchanged and a new row takes its position, so past answers keep the
        question they were given. The same file imported again under the same name changes
        nothing and reports :attr:`ImportStatus.UNCHANGED`.
        """
        query = select(QuestionBankRow).where(QuestionBankRow.name == bank.name)
        row = await self.session.scalar(query.with_for_update())
        await self._keep_pictures(bank)
        if row is None:
            row = QuestionBankRow(name=bank.name, question_count=0)
            self._describe(row, bank, source_filename, content_sha256, imported_by)
            self.session.add(row)
            await self.session.flush()
            self.session.add_all(
                QuestionRow(
                    bank_id=row.id, position=position, **_values(question), **_grading(question)
                )
                for position, question in enumerate(bank.questions, start=1)
            )
            await self.session.flush()
            return BankImport(_bank(row), ImportStatus.CREATED)
        previous = row.question_count
        if row.content_sha256 == content_sha256 and previous == len(bank.questions):
            return BankImport(_bank(row), ImportStatus.UNCHANGED, previous)

        existing = {
            question.position: question
            for question in await self.session.scalars(
                select(QuestionRow).where(
                    QuestionRow.bank_id == row.id, QuestionRow.retired_at.is_(None)
                )
            )
        }
        asked = await self._asked({question.id for question in existing.values()})
        now = utcnow()
        for position, question in enumerate(bank.questions, start=1):
            values = _values(question)
            grading = _grading(question)
            current = existing.pop(position, None)
            if current is not None and all(getattr(current, k) == v for k, v in values.items()):
                for name, value in grading.items():  # a new level or difficulty only
                    setattr(current, name, value)
                continue
            if current is not None and current.id not in asked:
                for name, value in (values | grading).items():
                    setattr(current, name, value)
                continue
            if current is not None:  # asked before: keep it as it was, add the new one
                current.retired_at = now
                await self.session.flush()
            self.session.add(QuestionRow(bank_id=row.id, position=position, **values, **grading))
        for gone in existing.values():  # positions past the new end
            if gone.id in asked:
                gone.retired_at = now
            else:
                await self.session.delete(gone)
        self._describe(row, bank, source_filename, content_sha256, imported_by)
        await self.session.flush()
        return BankImport(_bank(row), ImportStatus.REPLACED, previous)

    async def _keep_pictures(self, bank: QuestionBank) -> None:
        """Store the bank's pictures not stored yet, once each by content."""
        pictures = {
            question.picture.sha256: question.picture
            for question in bank.questions
            if question.picture is not None
        }
        if not pictures:
            return
        stored = await self.session.scalars(
            select(QuestionPictureRow.sha256).where(QuestionPictureRow.sha256.in_(pictures))
        )
        for sha256 in pictures.keys() - set(stored):
            picture = pictures[sha256]
            self.session.add(
                QuestionPictureRow(
                    sha256=sha256, media_type=picture.media_type, content=picture.content
                )
            )
        await self.session.flush()

    async def picture(self, sha256: str) -> Picture | None:
        row = await self.session.get(QuestionPictureRow, sha256)
        return Picture(row.content, row.media_type) if row is not None else None

    async def picture_file_id(self, sha256: str) -> str | None:
        """Telegram's id for the picture once the bot has sent it."""
        return await self.session.scalar(
            select(QuestionPictureRow.telegram_file_id).where(QuestionPictureRow.sha256 == sha256)
        )

    async def remember_picture_file_id(self, sha256: str, file_id: str) -> None:
        row = await self.session.get(QuestionPictureRow, sha256)
        if row is not None and row.telegram_file_id is None:
            row.telegram_file_id = file_id

    async def _asked(self, question_ids: set[int]) -> set[int]:
        """Which of these questions some attempt has already asked."""
        if not question_ids:
            return set()
        asked = await self.session.scalars(
            select(AttemptQuestionRow.question_id)
            .where(AttemptQuestionRow.question_id.in_(question_ids))
            .distinct()
        )
        return set(asked)

    @staticmethod
    def _describe(
        row: QuestionBankRow,
        bank: QuestionBank,
        source_filename: str,
        content_sha256: str,
        imported_by: int | None,
    ) -> None:
        row.version_note = bank.version_note
        row.source_filename = source_filename[:255]
        row.content_sha256 = content_sha256
        row.question_count = len(bank.questions)
        row.imported_by = imported_by
        row.imported_at = utcnow()

    async def get(self, bank_id: int) -> StoredBank | None:
        row = await self.session.get(QuestionBankRow, bank_id)
        return _bank(row) if row is not None else None

    async def by_name(self, name: str) -> StoredBank | None:
        row = await self.session.scalar(
            select(QuestionBankRow).where(QuestionBankRow.name == name)
        )
        return _bank(row) if row is not None else None

    async def list(self) -> builtins.list[StoredBank]:
        rows = await self.session.scalars(select(QuestionBankRow).order_by(QuestionBankRow.name))
        return [_bank(row) for row in rows]

    async def questions(
        self, bank_ids: Sequence[int], tags: Sequence[str] | None = None
    ) -> builtins.list[StoredQuestion]:
        """The questions of the banks, bank by bank in file order.

        With ``tags``, only questions carrying at least one of them (an empty list or
        ``None`` means no filter).
        """
        if not bank_ids:
            return []
        rows = await self.session.scalars(
            select(QuestionRow)
            .where(QuestionRow.bank_id.in_(list(bank_ids)), QuestionRow.retired_at.is_(None))
            .order_by(QuestionRow.bank_id, QuestionRow.position)
        )
        questions = [stored_question(row) for row in rows]
        if tags:
            wanted = set(tags)
            questions = [question for question in questions if wanted & set(question.tags)]
        return questions
