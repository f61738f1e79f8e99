"""The legal-education year's key dates, and when staff are reminded of each.

Seven days before each date, the bureau's staff are told what is coming so they can
post an article or open a quiz campaign in time. Dates are fixed days of the year; the
宪法宣传周 is the week before 国家宪法日 (12月4日), so one reminder serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from quizzes.themes import Theme

REMIND_DAYS_BEFORE = 7
REMIND_AT = time(9, 0)  # in the bureau's time zone


@dataclass(frozen=True, slots=True)
class KeyDate:
    code: str
    month: int
    day: int
    theme: Theme

    def on(self, year: int) -> date:
        return date(year, self.month, self.day)


KEY_DATES: tuple[KeyDate, ...] = (
    KeyDate("consumer_rights_day", 3, 15, Theme.OTHER),  # 国际消费者权益日
    KeyDate("national_security_day", 4, 15, Theme.NATIONAL_SECURITY),  # 全民国家安全教育日
    KeyDate("anti_drug_day", 6, 26, Theme.ANTI_DRUG),  # 国际禁毒日
    KeyDate("first_lesson", 9, 1, Theme.MINORS),  # 开学第一课
    KeyDate("constitution_day", 12, 4, Theme.CONSTITUTION),  # 国家宪法日、宪法宣传周
)
_BY_CODE = {key.code: key for key in KEY_DATES}


def key_date(code: str) -> KeyDate | None:
    return _BY_CODE.get(code)


@dataclass(frozen=True, slots=True)
class Reminder:
    key_date: KeyDate
    held_on: date
    remind_at: datetime  # aware, in the bureau's zone

    @property
    def job_id(self) -> str:
        """One id per date and year: the scheduler fires each once, across processes."""
        return f"calendar-{self.key_date.code}-{self.held_on.year}"


def reminder_for(key: KeyDate, year: int, zone: ZoneInfo) -> Reminder:
    held_on = key.on(year)
    moment = datetime.combine(held_on - timedelta(days=REMIND_DAYS_BEFORE), REMIND_AT, zone)
    return Reminder(key, held_on, moment)


def next_reminders(now: datetime, zone: ZoneInfo, *, grace: timedelta) -> list[Reminder]:
    """Each key date's next reminder: this year's while it is due or at most ``grace``
    overdue (a bot that was down fires it when it comes back), else next year's."""
    year = now.astimezone(zone).year
    found = []
    for key in KEY_DATES:
        reminder = reminder_for(key, year, zone)
        if reminder.remind_at < now - grace:
            reminder = reminder_for(key, year + 1, zone)
        found.append(reminder)
    return sorted(found, key=lambda r: r.remind_at)
