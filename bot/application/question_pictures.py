"""Question pictures: the picture of a question a participant was shown, for the page that
shows it, and the photo the chat sends (Telegram's file id once it has one, else the bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

from quizzes.bank import Picture, StoredQuestion
from quizzes.participants import Participant
from storage.unit_of_work import UnitOfWork

__all__ = ["QuestionPhoto", "attempt_picture", "question_photo", "remember_photo"]


@dataclass(frozen=True, slots=True)
class QuestionPhoto:
    """What the chat sends as a question's photo: Telegram's id for it, or else its bytes."""

    sha256: str
    file_id: str | None = None
    picture: Picture | None = None


async def attempt_picture(
    uow: UnitOfWork, participant: Participant, attempt_id: int, seq: int
) -> Picture | None:
    """The picture of question ``seq`` of the participant's own attempt, once the attempt
    has reached it; ``None`` for anyone else's attempt, a question not shown yet, or a
    question without a picture. Reads only."""
    attempt = await uow.attempts.get(attempt_id)
    picture: Picture | None = None
    if (
        attempt is not None
        and attempt.participant_id == participant.id
        and 1 <= seq <= (attempt.question_count if attempt.finished else attempt.current_seq)
    ):
        shown = await uow.attempts.question(attempt_id, seq)
        sha256 = shown.question.picture_sha256 if shown is not None else None
        if sha256 is not None:
            picture = await uow.banks.picture(sha256)
    await uow.commit()
    return picture


async def question_photo(uow: UnitOfWork, question: StoredQuestion) -> QuestionPhoto | None:
    """The question's photo for the chat, ``None`` when it has no picture. Reads only."""
    sha256 = question.picture_sha256
    if sha256 is None:
        return None
    file_id = await uow.banks.picture_file_id(sha256)
    photo = QuestionPhoto(sha256, file_id=file_id)
    if file_id is None:
        photo = QuestionPhoto(sha256, picture=await uow.banks.picture(sha256))
    await uow.commit()
    return photo if photo.file_id is not None or photo.picture is not None else None


async def remember_photo(uow: UnitOfWork, sha256: str, file_id: str) -> None:
    """Keep Telegram's id for a picture the bot has just sent, and commit."""
    await uow.banks.remember_picture_file_id(sha256, file_id)
    await uow.commit()
