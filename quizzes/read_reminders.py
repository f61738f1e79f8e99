"""A reminder to read an article, sent to those it was delivered to who have not read it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

EVERYONE = "all"  # the reach of a bureau admin: everyone the article was delivered to


def reach_key(school_ids: Iterable[int] | None) -> str:
    """What a reminder's reach is recorded as: everyone, or a coordinator's schools
    (``s:3,7``), so that each reach is reminded once a day."""
    if school_ids is None:
        return EVERYONE
    return "s:" + ",".join(str(i) for i in sorted(set(school_ids)))


@dataclass(frozen=True, slots=True)
class ReadReminder:
    """A reminder to read an article: once per article, reach and day."""

    id: int
    article_id: int
    reach: str
    day: date  # in the bureau's time zone
    sent_by: int  # participant id
    sent_by_name: str | None  # their display name (None once erased)
    sent_at: datetime
    recipients: int
