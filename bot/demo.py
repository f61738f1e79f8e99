"""``pufa demo``: the whole story on SQLite and the sandbox, end to end over HTTP.

It imports the sample roster, writes the invite pack, starts the sandbox and the bot,
registers simulated students and teachers through their invite links, and checks the
per-school counts in the database against what the simulated people did.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot, until_stopped
from bot.config import Settings
from bot.demo_activities import run_activities_chapter
from bot.demo_campaign import run_campaign_chapter
from bot.demo_dashboard import login_link, run_dashboard_chapter
from bot.demo_publicity import run_publicity_chapter
from bot.demo_report import run_report_chapter
from bot.demo_web import run_web_chapter
from bot.invite_export import invite_cards
from bot.invites import write_invite_pack
from bot.sandbox.config import SandboxConfig
from bot.sandbox.server import run_sandbox
from bot.simulation import SimulatedParticipant, plan_participants, register_all
from quizzes.roster import parse_roster
from quizzes.spreadsheet_safety import SafeCsvWriter
from quizzes.units import UnitKind
from storage.database import create_engine, create_session_factory
from storage.migrate import prepare_database
from storage.repositories import Repositories
from storage.roster_import import import_roster

SAMPLE_ROSTER = Path(__file__).parent / "data" / "sample_roster.csv"
DEMO_ADMIN_ID = 900_001


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _verdict(ok: bool) -> str:
    return "Demo finished: every figure matches the database." if ok else "Demo FAILED: see above."


def _say(text: str) -> None:
    print(text, flush=True)


def _progress(label: str) -> Callable[[int, int], None]:
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= 2.0:
            last[0] = now
            _say(f"  {label}: {done}/{total}")

    return show


async def run_demo(out_dir: Path, *, participants: int = 300, serve: bool = False) -> bool:
    """The whole story; True when every figure matched. With ``serve`` (a terminal), the
    bot and its dashboard keep running at the end until Ctrl-C."""
    out_dir.mkdir(parents=True, exist_ok=True)
    database = out_dir / "pufa-demo.db"
    for stale in out_dir.glob("pufa-demo.db*"):
        stale.unlink()
    database_url = f"sqlite+aiosqlite:///{database}"

    _say("1. Database and roster")
    engine = create_engine(database_url)
    await prepare_database(engine)
    session_factory = create_session_factory(engine)
    rows = parse_roster(SAMPLE_ROSTER.read_bytes(), SAMPLE_ROSTER.name)
    async with session_factory() as session:
        imported = await import_roster(session, rows, "第七师")
        await session.commit()
    _say(
        f"  imported {len(rows)} roster rows: "
        f"{imported.created[UnitKind.SCHOOL]} schools in "
        f"{imported.created[UnitKind.REGIMENT]} regiments, "
        f"{imported.created[UnitKind.CLASS]} classes"
    )

    async with run_sandbox(SandboxConfig()) as sandbox:
        _say(f"2. Telegram sandbox at {sandbox.url} (Telegram's rate limits enforced)")
        web_port = _free_port()
        settings = Settings(
            bot_token=sandbox.config.token,
            bot_api_url=sandbox.url,
            database_url=database_url,
            admin_ids=frozenset({DEMO_ADMIN_ID}),
            listen_port=web_port,
            public_url=f"http://127.0.0.1:{web_port}",
        )

        _say("3. Invite links and QR codes")
        async with session_factory() as session:
            repo = Repositories.over(session)
            cards = await invite_cards(repo, sandbox.config.bot_username)
            await session.commit()
            school_of_code: dict[str, int] = {}
            school_names: dict[int, str] = {}
            for card in cards:
                invite = await repo.invites.resolve(card.code)
                assert invite is not None
                unit = await repo.units.get(invite.unit_id)
                assert unit is not None
                school = unit if unit.kind is UnitKind.SCHOOL else await repo.units.school_of(unit)
                assert school is not None
                school_of_code[card.code] = school.id
                school_names[school.id] = school.name
        pack = write_invite_pack(cards, out_dir / "invites", on_progress=_progress("QR codes"))
        _say(f"  {pack.cards} invites for {pack.schools} schools: {pack.html_path}")

        _say("4. The bot, long polling the sandbox")
        async with running_bot(settings, migrate=False) as app:
            await sandbox.client.send_text(DEMO_ADMIN_ID, "/help", first_name="教育局")
            people = plan_participants(list(school_of_code.items()), participants)
            _say(f"5. {len(people)} simulated students and teachers tap their invite links")
            started = time.perf_counter()
            latencies = await register_all(
                sandbox.client,
                people,
                on_progress=_progress("registered"),
            )
            elapsed = time.perf_counter() - started
            stats = await sandbox.client.stats()
            refused = stats.get("status_429", 0)
            pacing = (
                "the bot paced its replies under Telegram's limits: no 429 Too Many Requests"
                if not refused
                else f"the sandbox answered {refused} times with 429 Too Many Requests; "
                "the bot waited out each retry_after and lost no reply"
            )
            _say(f"  {len(latencies)} registrations in {elapsed:.1f} s; {pacing}")
            ok = await _check_counts(session_factory, people, school_names, out_dir)

            _say("7. A “宪法卫士” quiz campaign")
            ok &= await run_campaign_chapter(
                app,
                sandbox.client,
                [person.telegram_id for person in people],
                out_dir,
                _say,
                _progress("answered"),
            )
            _say("  Students without Telegram take a short quiz on the participant pages")
            pages, on_web = await run_web_chapter(app, _say)
            ok &= on_web

            _say("8. Publicity: an article broadcast, reads and clicks, an online lecture")
            ok &= await run_publicity_chapter(
                app,
                sandbox.client,
                DEMO_ADMIN_ID,
                [person.telegram_id for person in people],
                _say,
            )

            _say("9. Offline activities: a 法治副校长's lecture in chat, a school's template")
            ok &= await run_activities_chapter(
                app,
                sandbox.client,
                DEMO_ADMIN_ID,
                [person.telegram_id for person in people],
                _say,
            )

            _say("10. The report section for the bureau's yearly report")
            paragraph, activity_paragraphs, statistics, reported = await run_report_chapter(
                app, out_dir, _say
            )
            ok &= reported
            _say("")
            _say(paragraph)
            _say("")
            for part in activity_paragraphs:
                _say(part)
                _say("")

            _say("11. The dashboard for the bureau and the schools")
            ok &= await run_dashboard_chapter(app, sandbox.client, DEMO_ADMIN_ID, statistics, _say)
            link = await login_link(sandbox.client, DEMO_ADMIN_ID)
            _say(f"Dashboard: {settings.link_base}{settings.admin_path}/")
            _say(f"  log in as the bureau's admin (once, within 10 minutes): {link}")
            _say(f"  a new link: send /web as user {DEMO_ADMIN_ID} in the sandbox ({sandbox.url})")
            _say(f"Participant pages (phones without Telegram): {pages}")
            if not serve:
                _say("  (it stops with the demo: run `make demo` in a terminal to keep it up)")
            if serve:
                _say(_verdict(ok))
                _say("Serving the bot and the dashboard; press Ctrl-C to stop.")
                await until_stopped()

    await engine.dispose()
    if not serve:
        _say(_verdict(ok))
    return ok


async def _check_counts(
    session_factory: async_sessionmaker[AsyncSession],
    people: list[SimulatedParticipant],
    school_names: dict[int, str],
    out_dir: Path,
) -> bool:
    expected = Counter(person.school_id for person in people)
    async with session_factory() as session:
        repo = Repositories.over(session)
        counted = await repo.participants.count_registered_by_school()
        schools = {u.id: u for u in await repo.units.of_kind(UnitKind.SCHOOL)}
    _say("6. Registered participants per school (database vs. simulated)")
    table = out_dir / "registrations-by-school.csv"
    ok = True
    with table.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = SafeCsvWriter(handle)
        writer.writerow(["学校", "在册学生", "在册教职工", "已注册", "模拟注册"])
        for school_id, school in sorted(schools.items()):
            got, want = counted.get(school_id, 0), expected.get(school_id, 0)
            ok &= got == want
            mark = "" if got == want else "  <-- MISMATCH"
            _say(f"  {school_names.get(school_id, school.name):<14} {got:>4} / {want:<4}{mark}")
            writer.writerow(
                [school.name, school.students_enrolled, school.teachers_enrolled, got, want]
            )
    total = sum(counted.values())
    _say(f"  total {total} registered, {len(people)} simulated; table: {table}")
    return ok and total == len(people)
