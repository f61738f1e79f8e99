"""Question banks: checking an uploaded file, importing it once confirmed, listing them.

A bank file is checked when it arrives and parsed again when the admin confirms, since
only its Telegram file id and hash are kept in between: :func:`check_upload` says what an
import would do, :func:`import_upload` does it if the file is still the one checked.
The door fetches the file's bytes; these take bytes and never keep them.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from enum import StrEnum

from quizzes.bank import BankError, BankImport, QuestionBank, StoredBank
from quizzes.bank_parsers import parse_bank
from quizzes.permissions import Permissions
from storage.unit_of_work import UnitOfWork

__all__ = [
    "CheckedUpload",
    "UploadRefusal",
    "check_upload",
    "content_hash",
    "import_upload",
    "list_banks",
    "may_import_banks",
]


class UploadRefusal(StrEnum):
    """Why a confirmed upload was not imported (besides the file's own problems)."""

    NOT_ADMIN = "not_admin"
    CHANGED = "changed"  # the file fetched now is not the one that was checked


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    """A bank file that parses: what it holds, its hash, and the bank it would replace."""

    bank: QuestionBank
    sha256: str
    existing: StoredBank | None

    @property
    def same_content(self) -> bool:
        """Importing it would change nothing: the bank of that name is this very file."""
        return self.existing is not None and self.existing.content_sha256 == self.sha256


def may_import_banks(viewer: Permissions) -> bool:
    """Question banks are the bureau's: admins import them."""
    return viewer.is_admin


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


async def _parse(content: bytes, filename: str) -> QuestionBank:
    # A 5 MB workbook takes a moment to read: keep the event loop free meanwhile.
    return await asyncio.to_thread(parse_bank, content, filename)


async def check_upload(
    uow: UnitOfWork, content: bytes, filename: str
) -> CheckedUpload | BankError:
    """Parse the file and find the bank of its name; the file's problems if it does not
    parse. Reads only, and ends the read before returning."""
    try:
        bank = await _parse(content, filename)
    except BankError as error:
        return error
    existing = await uow.banks.by_name(bank.name)
    await uow.commit()
    return CheckedUpload(bank, content_hash(content), existing)


async def import_upload(
    uow: UnitOfWork,
    content: bytes,
    *,
    filename: str,
    checked_sha256: str,
    viewer: Permissions,
    imported_by: int,
) -> BankImport | BankError | UploadRefusal:
    """Import the file confirmed after :func:`check_upload`, if it is still that file, and
    commit. A file that does not parse now is never imported, though it did a moment ago."""
    if not may_import_banks(viewer):
        return UploadRefusal.NOT_ADMIN
    if content_hash(content) != checked_sha256:
        return UploadRefusal.CHANGED
    try:
        bank = await _parse(content, filename)
    except BankError as error:
        return error
    result = await uow.banks.import_bank(
        bank, source_filename=filename, content_sha256=checked_sha256, imported_by=imported_by
    )
    await uow.commit()
    return result


async def list_banks(uow: UnitOfWork) -> list[StoredBank]:
    """Every bank, as the repository orders them."""
    return await uow.banks.list()
