"""Certificates issued: one serial number and verification code per passed attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class CertificateRow(Base):
    """Issuing the certificate of an attempt again gives the same serial and code."""

    __tablename__ = "certificates"

    # The serial number printed is "{year}-{id:06d}": unique without a counter to race on.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), unique=True
    )
    year: Mapped[int]
    code: Mapped[str] = mapped_column(String(16), unique=True)
    # "pass" or "distinction", as printed on the day it was first issued.
    band: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime]
