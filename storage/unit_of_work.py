"""The unit of work: every repository over one session.

One is opened per update (and per web request or job); the application layer's use
cases take it and reach the data only through its repositories. Repositories that an
update rarely needs are built on first use, so a quiz press builds none of them.
"""

from __future__ import annotations

from functools import cached_property

from storage.activities import ActivityRepository, VicePrincipalRepository
from storage.article_reach import ArticleReachRepository
from storage.class_progress import ClassProgressRepository
from storage.dashboard_jobs import DashboardJobRepository
from storage.livequiz import LiveQuizRepository
from storage.publicity import LectureRepository, PublicityRepository
from storage.read_reminders import ReadReminderRepository
from storage.reports import ReportRepository
from storage.repositories import Repositories
from storage.scheduler import JobRunRepository
from storage.staff_accounts import StaffAccountRepository
from storage.statistics import StatisticsRepository
from storage.web_identity import WebIdentityRepository
from storage.web_sessions import WebSessionRepository


class UnitOfWork(Repositories):
    """:class:`Repositories` plus the feature repositories, committed as one."""

    @cached_property
    def publicity(self) -> PublicityRepository:
        return PublicityRepository(self.session)

    @cached_property
    def article_reach(self) -> ArticleReachRepository:
        return ArticleReachRepository(self.session)

    @cached_property
    def read_reminders(self) -> ReadReminderRepository:
        return ReadReminderRepository(self.session)

    @cached_property
    def lectures(self) -> LectureRepository:
        return LectureRepository(self.session)

    @cached_property
    def live_quizzes(self) -> LiveQuizRepository:
        return LiveQuizRepository(self.session)

    @cached_property
    def reports(self) -> ReportRepository:
        return ReportRepository(self.session)

    @cached_property
    def statistics(self) -> StatisticsRepository:
        return StatisticsRepository(self.session)

    @cached_property
    def job_runs(self) -> JobRunRepository:
        return JobRunRepository(self.session)

    async def rollback(self) -> None:
        await self.session.rollback()

    @cached_property
    def activities(self) -> ActivityRepository:
        return ActivityRepository(self.session)

    @cached_property
    def vice_principals(self) -> VicePrincipalRepository:
        return VicePrincipalRepository(self.session)

    @cached_property
    def web_sessions(self) -> WebSessionRepository:
        return WebSessionRepository(self.session)

    @cached_property
    def class_progress(self) -> ClassProgressRepository:
        return ClassProgressRepository(self.session)

    @cached_property
    def web_identities(self) -> WebIdentityRepository:
        return WebIdentityRepository(self.session, self.attempts.presses)

    @cached_property
    def staff_accounts(self) -> StaffAccountRepository:
        return StaffAccountRepository(self.session)

    @cached_property
    def dashboard_jobs(self) -> DashboardJobRepository:
        return DashboardJobRepository(self.session)
