"""The dashboard's reports and roster pages through aiohttp's test client, on both
databases: a report compiled from the page in the background (its progress, its files equal
to compile_report's, once for two requests at once), the history the chat's /reports
lists, the rights on every download, CSRF; a roster upload that shows its problems by row
and column and imports nothing, a good one previewed then imported on confirm, once."""

from __future__ import annotations

import asyncio
import html as markup
import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.application.reports import compile_and_keep
from bot.reports.compile import CSV, REPORT_DOCX, XLSX, compile_report
from bot.web.background import BACKGROUND
from quizzes.dashboard_jobs import STALE_AFTER, DashboardJob, JobKind, JobStatus
from quizzes.permissions import Permissions
from quizzes.reports import Trigger
from quizzes.statistics import Period
from quizzes.units import Unit
from storage.dashboard_jobs import DashboardJobRepository
from storage.models import UnitRow
from storage.models_dashboard_jobs import DashboardJobRow, RosterUploadRow
from storage.models_reports import ReportVersionRow
from storage.repositories import Repositories
from tests.publicity_chat import ADMIN, COORDINATOR, chat
from tests.publicity_factories import add_people
from tests.test_dashboard import Site, site

__all__ = ["chat", "site"]  # the fixtures

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
TEACHER = 4000


async def _token(client: TestClient, path: str = "/admin/reports") -> str:
    page = await client.get(path)
    assert page.status == 200, await page.text()
    found = TOKEN.search(await page.text())
    assert found is not None
    return found.group(1)


async def _finished(client: TestClient) -> None:
    """Until the work the page started in the background has ended."""
    await client.server.app[BACKGROUND].wait()


def _today(site: Site) -> date:
    return site.clock().astimezone(site.chat.context.settings.zone).date()


async def _root(site: Site) -> Unit:
    async with site.chat.session_factory() as session:
        (root,) = await Repositories.over(session).units.roots()
    return root


async def _versions(site: Site) -> list[ReportVersionRow]:
    async with site.chat.session_factory() as session:
        return list(await session.scalars(select(ReportVersionRow).order_by(ReportVersionRow.id)))


async def _jobs(site: Site) -> int:
    async with site.chat.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(DashboardJobRow)) or 0)


async def _report_job(
    jobs: DashboardJobRepository, key: str, unit: Unit, period: Period, now: datetime
) -> tuple[DashboardJob, bool]:
    """A report job started as the page starts one (no compile behind it)."""
    return await jobs.start(
        JobKind.REPORT,
        key,
        requested_by=None,
        locale="zh-CN",
        now=now,
        scope_unit_id=unit.id,
        period=period,
    )


async def _chat_report(site: Site, unit: Unit) -> int:
    """A report on ``unit`` kept as the chat keeps one (``/report``); its version id."""
    chat = site.chat
    kept = await compile_and_keep(
        chat.session_factory,
        unit,
        Period.year_to_date(_today(site)),
        viewer=Permissions(is_admin=True),
        trigger=Trigger.CHAT,
        compiled_by=ADMIN,
        now=datetime.now(UTC),
        zone=chat.context.settings.zone,
        locale="zh-CN",
        translator=chat.context.translator,
    )
    assert not isinstance(kept, str)
    return kept[1].id


async def test_a_report_compiled_on_the_page_is_compile_reports_and_downloads_again(
    site: Site,
) -> None:
    root = await _root(site)
    today = _today(site)
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        overview = await client.get("/admin/")
        assert 'href="/admin/reports"' in await overview.text()  # linked from the header
        token = await _token(client)
        posted = await client.post(
            "/admin/reports",
            data={"csrf_token": token, "unit": str(root.id), "period": "year"},
            allow_redirects=False,
        )
        assert posted.status == 303, await posted.text()
        job_page = posted.headers["Location"]
        assert re.fullmatch(r"/admin/reports/jobs/\d+", job_page)
        await _finished(client)
        state = await client.get(job_page.replace("/admin/", "/admin/api/", 1))
        data = await state.json()
        assert state.status == 200 and data["status"] == "done" and data["percent"] == 100
        # Every step of compile_report was reported on the way.
        assert data["done"] == data["total"] > 0 and data["step"]
        names = [item["name"] for item in data["files"]]
        assert names[:3] == [REPORT_DOCX, XLSX, CSV] and "participation.png" in names
        page = await client.get(job_page)
        html = await page.text()
        assert page.status == 200 and 'http-equiv="refresh"' not in html
        csv_url = next(item["url"] for item in data["files"] if item["name"] == CSV)
        assert f'href="{csv_url}"' in html
        download = await client.get(csv_url)
        body = await download.read()
        disposition = download.headers["Content-Disposition"]
        # The history lists it, compiled on the web.
        listed = await (await client.get("/admin/reports")).text()
    chat = site.chat
    expected = await compile_report(
        chat.session_factory,
        root,
        Period.year_to_date(today),
        zone=chat.context.settings.zone,
        locale="zh-CN",
        translator=chat.context.translator,
    )
    assert download.status == 200 and body == expected.files[CSV]
    assert download.headers["Content-Type"].startswith("text/csv")
    stem = f"第七师-参与情况统计-{today.year}0101-{today:%Y%m%d}.csv"
    assert f"filename*=UTF-8''{quote(stem)}" in disposition
    assert disposition.startswith('attachment; filename="participation-')
    (version,) = await _versions(site)
    assert (version.trigger, version.scope_unit_id) == ("web", root.id)
    assert f'data-version="{version.id}"' in listed and "看板生成" in listed


async def test_the_progress_endpoint_and_the_page_while_a_report_compiles(site: Site) -> None:
    root = await _root(site)
    async with site.chat.session_factory() as session:
        jobs = DashboardJobRepository(session)
        job, started = await _report_job(
            jobs, "report:running", root, Period.year_to_date(_today(site)), datetime.now(UTC)
        )
        await jobs.progress(job.id, "阅读和点击", 6, 19, datetime.now(UTC))
        await jobs.commit()
    assert started
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        state = await (await client.get(f"/admin/api/reports/jobs/{job.id}")).json()
        page = await client.get(f"/admin/reports/jobs/{job.id}")
        html = await page.text()
        site.clock.offset = STALE_AFTER  # its process died: nothing heard for ten minutes
        dead = await (await client.get(f"/admin/api/reports/jobs/{job.id}")).json()
        dead_page = await (await client.get(f"/admin/reports/jobs/{job.id}")).text()
    assert dead["status"] == "failed" and "报告生成失败" in dead_page
    assert state == {
        "status": "running",
        "step": "阅读和点击",
        "done": 6,
        "total": 19,
        "percent": 31,
        "files": [],
    }
    # Without script the page reloads itself; with it, it asks the JSON.
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html
    assert f'data-job="/admin/api/reports/jobs/{job.id}"' in html
    assert 'value="31"' in html and "阅读和点击" in html


async def test_two_compiles_of_the_same_report_at_once_run_once(site: Site) -> None:
    root = await _root(site)
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        token = await _token(client)
        form = {"csrf_token": token, "unit": str(root.id), "period": "year"}
        first, second = await asyncio.gather(
            client.post("/admin/reports", data=form, allow_redirects=False),
            client.post("/admin/reports", data=form, allow_redirects=False),
        )
        await _finished(client)
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert await _jobs(site) == 1
    assert len(await _versions(site)) == 1


async def test_a_chosen_period_and_its_problems(site: Site) -> None:
    chat = site.chat
    school = chat.world.schools["胡杨河市第一中学"]
    today = _today(site)
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        token = await _token(client)
        reversed_days = await client.post(
            "/admin/reports",
            data={
                "csrf_token": token,
                "unit": str(school.id),
                "period": "range",
                "start": today.isoformat(),
                "end": f"{today.year - 1}-01-01",
            },
        )
        problem = await reversed_days.text()
        ranged = await client.post(
            "/admin/reports",
            data={
                "csrf_token": token,
                "unit": str(school.id),
                "period": "range",
                "start": f"{today.year - 1}-03-01",
                "end": f"{today.year - 1}-06-30",
            },
            allow_redirects=False,
        )
        await _finished(client)
    assert reversed_days.status == 400 and "结束日期早于开始日期" in problem
    assert ranged.status == 303
    (version,) = await _versions(site)
    assert (version.period_start, version.period_end) == (
        date(today.year - 1, 3, 1),
        date(today.year - 1, 6, 30),
    )
    assert version.scope_unit_id == school.id


async def test_a_coordinator_sees_and_downloads_their_schools_reports_only(site: Site) -> None:
    chat = site.chat
    own = chat.world.schools["胡杨河市第一中学"]
    other = chat.world.schools["一三七团第一小学"]
    own_version = await _chat_report(site, own)
    other_version = await _chat_report(site, other)
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        page = await client.get("/admin/reports")
        html = await page.text()
        token = TOKEN.search(html)
        assert token is not None
        mine = await client.get(f"/admin/reports/{own_version}/{REPORT_DOCX}")
        docx = await mine.read()
        theirs = await client.get(f"/admin/reports/{other_version}/{REPORT_DOCX}")
        theirs_csv = await client.get(f"/admin/reports/{other_version}/{CSV}")
        markdown = await client.get(f"/admin/reports/{own_version}/report.md")
        gone = await client.get(f"/admin/reports/{other_version + 100}/{CSV}")
        compile_theirs = await client.post(
            "/admin/reports",
            data={"csrf_token": token.group(1), "unit": str(other.id), "period": "year"},
            allow_redirects=False,
        )
    # The chat's report is in the page's history; the other school's is not.
    assert f'data-version="{own_version}"' in html and "聊天生成" in html
    assert f'data-version="{other_version}"' not in html
    options = re.findall(r'<option value="(\d+)"', html)
    assert options == [str(own.id), str(chat.world.schools["一三一团中学"].id)]
    assert mine.status == 200 and docx[:2] == b"PK"
    assert theirs.status == 403 and theirs_csv.status == 403
    assert markdown.status == 404 and gone.status == 404
    assert compile_theirs.status == 403
    assert await _jobs(site) == 0


async def test_another_schools_job_is_refused_to_a_coordinator(site: Site) -> None:
    other = site.chat.world.schools["一三七团第一小学"]
    async with site.chat.session_factory() as session:
        jobs = DashboardJobRepository(session)
        job, _ = await _report_job(
            jobs, "report:other", other, Period.year_to_date(_today(site)), datetime.now(UTC)
        )
        await jobs.commit()
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        page = await client.get(f"/admin/reports/jobs/{job.id}")
        state = await client.get(f"/admin/api/reports/jobs/{job.id}")
        english = await client.get("/admin/reports?lang=en")
        english_text = await english.text()
    assert page.status == 403 and state.status == 403
    assert english.status == 200 and "Compile the report" in english_text  # English too


async def test_compiling_needs_the_forms_token_and_staff_rights(site: Site) -> None:
    root = await _root(site)
    await add_people(
        site.chat.session_factory, [TEACHER], site.chat.world.classes["七年级1班"].id, "teacher"
    )
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        await _token(client)
        forged = await client.post(
            "/admin/reports",
            data={"csrf_token": "x" * 43, "unit": str(root.id), "period": "year"},
            allow_redirects=False,
        )
        forged_text = markup.unescape(await forged.text())
        bare = await client.post(
            "/admin/reports", data={"unit": str(root.id)}, allow_redirects=False
        )
        await _finished(client)
    async with site.make_client() as client:
        await site.login(client, TEACHER)
        teacher_page = await client.get("/admin/reports")
        overview = await client.get(f"/admin/units/{site.chat.world.classes['七年级1班'].id}")
        overview_text = await overview.text()
    assert forged.status == 403 and bare.status == 403
    assert "表单已失效" in forged_text
    assert await _jobs(site) == 0 and await _versions(site) == []
    assert teacher_page.status == 403
    assert overview.status == 200 and 'href="/admin/reports"' not in overview_text


# -- the roster page --------------------------------------------------------------------

HEADER = "团场,学校,班级,学生人数,教师人数"
# The world's tree again, a new school, 七年级1班 at 47 students; 137团 left out.
GOOD_ROSTER = "\n".join(
    [
        HEADER,
        "129团,胡杨河市第一中学,,1400,110",
        "129团,胡杨河市第一中学,七年级1班,47,4",
        "129团,胡杨河市第一中学,七年级2班,44,4",
        "129团,新湖学校,,300,25",
        "131团,一三一团中学,,800,60",
    ]
).encode("utf-8")
BAD_ROSTER = "\n".join(
    [
        HEADER,
        "129团,胡杨河市第一中学,,1400,110",
        "129团,胡杨河市第一中学,七年级3班,四十五,4",
        "129团,新湖学校,,300,25",
    ]
).encode("utf-8")


def _upload_form(token: str, content: bytes, filename: str = "名册.csv") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    form.add_field("division", "第七师")
    form.add_field("file", content, filename=filename, content_type="text/csv")
    return form


async def _tree(site: Site) -> list[tuple[str, int, int, bool]]:
    async with site.chat.session_factory() as session:
        rows = await session.execute(
            select(
                UnitRow.name,
                UnitRow.students_enrolled,
                UnitRow.teachers_enrolled,
                UnitRow.retired_at.is_not(None),
            ).order_by(UnitRow.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def _uploads(site: Site) -> int:
    async with site.chat.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(RosterUploadRow)) or 0)


def _items(html: str, name: str) -> list[str]:
    found = re.search(rf'data-list="{name}">(.*?)</ul>', html, re.S)
    assert found is not None, name
    return [markup.unescape(item) for item in re.findall(r"<li>(.*?)</li>", found.group(1))]


async def test_a_roster_with_an_error_shows_its_row_and_column_and_imports_nothing(
    site: Site,
) -> None:
    before = await _tree(site)
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        overview = await (await client.get("/admin/")).text()
        token = await _token(client, "/admin/roster")
        rejected = await client.post("/admin/roster", data=_upload_form(token, BAD_ROSTER))
        html = await rejected.text()
        too_big = await client.post(
            "/admin/roster", data=_upload_form(token, b"x" * (6 * 1024 * 1024))
        )
        too_big_text = await too_big.text()
    assert 'href="/admin/roster"' in overview
    assert rejected.status == 400
    assert _items(html, "problems") == [
        "第 3 行，“学生人数”列：“四十五”不是数字，请填写不小于 0 的整数。"
    ]
    assert "没有写入任何数据" in markup.unescape(html)
    assert too_big.status == 400 and "超过了 5 MB 的上限" in markup.unescape(too_big_text)
    assert await _tree(site) == before and await _uploads(site) == 0


async def test_a_good_roster_is_previewed_then_imported_once_on_confirm(site: Site) -> None:
    before = await _tree(site)
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        token = await _token(client, "/admin/roster")
        previewed = await client.post("/admin/roster", data=_upload_form(token, GOOD_ROSTER))
        html = markup.unescape(await previewed.text())
        assert previewed.status == 200, html
        assert await _tree(site) == before  # a preview writes nothing to the tree
        found = re.search(r'action="(/admin/roster/\d+/import)"', html)
        assert found is not None
        confirm = {"csrf_token": token, "division": "第七师"}
        forged = await client.post(found.group(1), data={**confirm, "csrf_token": "y" * 43})
        assert forged.status == 403 and await _tree(site) == before
        imported = await client.post(found.group(1), data=confirm, allow_redirects=False)
        await _finished(client)
        replayed = await client.post(found.group(1), data=confirm, allow_redirects=False)
        replay_text = markup.unescape(await replayed.text())
        await _finished(client)
        job_page = await client.get(imported.headers["Location"])
        job_html = markup.unescape(await job_page.text())
        api = imported.headers["Location"].replace("/admin/", "/admin/api/", 1)
        progress = await (await client.get(api)).json()
    assert "将新建团场 0 个、学校 1 个、班级 0 个。" in html
    assert _items(html, "new_schools") == ["新湖学校"]
    assert _items(html, "changed") == ["班级“七年级1班”：学生 45 → 47，教职工 4 → 4"]
    assert _items(html, "missing") == ["团场：137团（1 个班级，0 人）"]
    assert imported.status == 303
    assert re.fullmatch(r"/admin/roster/jobs/\d+", imported.headers["Location"])
    after = await _tree(site)
    assert ("新湖学校", 300, 25, False) in after and ("七年级1班", 47, 4, False) in after
    assert ("一三七团第一小学", 38, 3, False) in after  # left out, kept (not retired)
    assert len(after) == len(before) + 1
    assert replayed.status == 409 and "不会重复导入" in replay_text
    assert await _jobs(site) == 1
    assert "名册已导入" in job_html and "更新了 1 个单位的在册人数。" in job_html
    # The bulk import told its progress: every unit of the file written (division included).
    assert progress["status"] == "done" and progress["done"] == progress["total"] == 8


async def test_the_roster_is_the_admins_and_needs_the_forms_token(site: Site) -> None:
    before = await _tree(site)
    async with site.make_client() as client:
        await site.login(client, COORDINATOR)
        page = await client.get("/admin/roster")
        overview = await (await client.get("/admin/")).text()
        posted = await client.post("/admin/roster", data=_upload_form("z" * 43, GOOD_ROSTER))
    async with site.make_client() as client:
        await site.login(client, ADMIN)
        await _token(client, "/admin/roster")
        forged = await client.post("/admin/roster", data=_upload_form("z" * 43, GOOD_ROSTER))
        template = await client.get("/admin/roster/template.xlsx")
        body = await template.read()
    assert page.status == 403 and posted.status == 403 and forged.status == 403
    assert 'href="/admin/roster"' not in overview
    assert await _tree(site) == before and await _uploads(site) == 0
    assert template.status == 200 and body[:2] == b"PK"
    assert "filename*=UTF-8''" + quote("名册模板.xlsx") in template.headers["Content-Disposition"]


async def test_a_job_left_running_by_a_process_that_died_does_not_block_the_next(
    site: Site,
) -> None:
    root = await _root(site)
    period = Period.year_to_date(_today(site))
    started_at = datetime.now(UTC)
    async with site.chat.session_factory() as session:
        jobs = DashboardJobRepository(session)
        first, _ = await _report_job(jobs, "report:same", root, period, started_at)
        again, started_again = await _report_job(
            jobs, "report:same", root, period, started_at + STALE_AFTER - timedelta(seconds=1)
        )
        later, started_later = await _report_job(
            jobs, "report:same", root, period, started_at + STALE_AFTER
        )
        await jobs.commit()
        dead = await jobs.get(first.id)
    assert (again.id, started_again) == (first.id, False)  # still running: joined
    assert started_later and later.id != first.id
    assert dead is not None and dead.status is JobStatus.FAILED
