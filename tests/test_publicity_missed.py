"""One rule for a scheduled article found overdue, whichever path finds it: within
PUFA_SCHEDULER_GRACE_S it is sent; beyond it, it is not sent, its author is told (with a
button to send it now), ``pufa jobs`` lists it and ``pufa article send ID`` sends it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiogram.methods import SendMessage
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.publicity_jobs import plan_articles
from bot.scheduler import Scheduler
from bot.views.publicity import MissedCb
from quizzes.publicity import Article, ArticleStatus, Audience
from storage.models_publicity import BroadcastRow
from storage.publicity import PublicityRepository
from tests.publicity_chat import ADMIN, COORDINATOR, Chat, chat

__all__ = ["chat"]  # the fixture

STUDENT = 3000
GRACE = timedelta(hours=6)


async def scheduled(chat: Chat, title: str, publish_at: datetime) -> Article:
    first = chat.world.schools["胡杨河市第一中学"]
    async with chat.session_factory() as session:
        repo = PublicityRepository(session)
        article = await repo.create_article(
            title=title,
            body="学习宪法。",
            author_id=COORDINATOR,
            audience=Audience(frozenset({first.id})),
        )
        await repo.update_article(
            article.id, publish_at=publish_at, status=ArticleStatus.SCHEDULED
        )
        await repo.commit()
    return article


async def status_of(chat: Chat, article_id: int) -> tuple[ArticleStatus, int]:
    """The article's status and how many broadcasts it has."""
    async with chat.session_factory() as session:
        article = await PublicityRepository(session).article(article_id)
        broadcasts = list(
            await session.scalars(
                select(BroadcastRow.id).where(BroadcastRow.article_id == article_id)
            )
        )
    assert article is not None
    return article.status, len(broadcasts)


def notices(chat: Chat, title: str) -> list[SendMessage]:
    return [
        m
        for m in chat.bot.recorder.requests
        if isinstance(m, SendMessage) and title in m.text and "没有推送" in m.text
    ]


async def test_at_start_up_an_article_beyond_the_grace_is_missed_not_sent(chat: Chat) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    late = await scheduled(chat, "八小时前的文章", now - timedelta(hours=8))
    due = await scheduled(chat, "一小时前的文章", now - timedelta(hours=1))
    scheduler = Scheduler(chat.context, grace=GRACE, clock=lambda: now)
    scheduler.add_planner(plan_articles)
    await scheduler.start()
    await scheduler.stop()  # waits for the jobs it fired

    assert await status_of(chat, late.id) == (ArticleStatus.MISSED, 0)
    assert await status_of(chat, due.id) == (ArticleStatus.PUBLISHED, 1)
    [notice] = notices(chat, "八小时前的文章")
    assert int(notice.chat_id) == COORDINATOR
    assert "6 小时" in notice.text and "现在推送" in str(notice.reply_markup)
    assert notices(chat, "一小时前的文章") == []

    # The broadcaster's fallback, looking after the scheduler, sends nothing late either.
    await chat.broadcaster.publish_overdue(now)
    assert await status_of(chat, late.id) == (ArticleStatus.MISSED, 0)
    assert len(notices(chat, "八小时前的文章")) == 1  # told once


async def test_the_broadcasters_fallback_keeps_the_rule(chat: Chat) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    late = await scheduled(chat, "迟到的文章", now - timedelta(hours=8))
    lost_job = await scheduled(chat, "任务丢失的文章", now - timedelta(minutes=5))
    await chat.broadcaster.publish_overdue(now)
    assert await status_of(chat, late.id) == (ArticleStatus.MISSED, 0)
    assert await status_of(chat, lost_job.id) == (ArticleStatus.PUBLISHED, 1)
    assert len(notices(chat, "迟到的文章")) == 1


async def test_the_author_sends_a_missed_article_with_the_notices_button(chat: Chat) -> None:
    now = datetime.now(UTC)
    late = await scheduled(chat, "迟到的文章", now - timedelta(hours=8))
    await chat.broadcaster.publish_overdue(now)
    button = MissedCb(article=late.id).pack()
    assert button in chat.bot.last_markup_data()

    answer = await chat.press(STUDENT, button)
    assert answer.show_alert and answer.text is not None and "管理员" in answer.text
    assert await status_of(chat, late.id) == (ArticleStatus.MISSED, 0)

    await chat.press(COORDINATOR, button)
    assert "已开始推送《迟到的文章》" in chat.bot.sent_texts(COORDINATOR)[-1]
    assert await status_of(chat, late.id) == (ArticleStatus.PUBLISHED, 1)
    answer = await chat.press(ADMIN, button)  # already sent: not twice
    assert answer.text is not None and "已经推送" in answer.text
    assert await status_of(chat, late.id) == (ArticleStatus.PUBLISHED, 1)


def test_pufa_jobs_lists_a_missed_article_and_article_send_sends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "cli.db"
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    source = tmp_path / "a.md"
    source.write_text("---\ntitle: 宪法日\npublish_at: 2099-01-01 09:00\n---\n正文", "utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["article", "create", str(source)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(database) as connection:  # due while the bot was down
        connection.execute("UPDATE articles SET publish_at = '2025-01-01 01:00:00.000000'")
    # Listed as missed before the bot has looked, and listing it changes nothing.
    result = runner.invoke(main, ["jobs"])
    assert result.exit_code == 0, result.output
    assert "missed" in result.output and "article 1  宪法日" in result.output
    assert "article-1-publish" not in result.output
    with sqlite3.connect(database) as connection:
        [(status,)] = connection.execute("SELECT status FROM articles").fetchall()
        assert status == "scheduled"
        connection.execute("UPDATE articles SET status = 'missed'")  # as the bot marks it

    result = runner.invoke(main, ["jobs"])
    assert result.exit_code == 0, result.output
    assert "missed" in result.output and "article 1  宪法日" in result.output
    assert "pufa article send" in result.output

    result = runner.invoke(main, ["article", "send", "1"])
    assert result.exit_code == 0, result.output
    assert "article 1: broadcast 1 to 0 recipients started" in result.output
    result = runner.invoke(main, ["jobs"])
    assert "宪法日" not in result.output
    result = runner.invoke(main, ["article", "send", "1"])
    assert result.exit_code == 1 and "not a missed article" in result.output
