"""``pufa article create``: Markdown with front matter, checked before anything is stored."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.article_file import (
    ArticleFileError,
    markdown_to_html,
    parse_article_file,
    store_article_file,
)
from bot.article_format import check_article
from bot.cli import main
from quizzes.participants import Role
from storage.publicity import PublicityRepository
from tests.factories import World, build_world
from tests.publicity_factories import add_people, status_counts

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 11, 1, tzinfo=UTC)


def test_markdown_becomes_telegram_html() -> None:
    source = """# 国家宪法日

**宪法**是国家的*根本法*，~~不是~~ `code <x>` 见[宪法全文](https://example.org/a?b=1&c=2)。
snake_case_name 不是强调。

> 宪法的生命在于实施
> 宪法的权威也在于实施

- 尊崇宪法
- 学习宪法

```
<pre> & 保持原样
```"""
    result = markdown_to_html(source)
    assert result == (
        "<b>国家宪法日</b>\n\n"
        "<b>宪法</b>是国家的<i>根本法</i>，<s>不是</s> <code>code &lt;x&gt;</code> 见"
        '<a href="https://example.org/a?b=1&amp;c=2">宪法全文</a>。\n'
        "snake_case_name 不是强调。\n\n"
        "<blockquote>宪法的生命在于实施\n宪法的权威也在于实施</blockquote>\n\n"
        "• 尊崇宪法\n• 学习宪法\n\n"
        "<pre>&lt;pre&gt; &amp; 保持原样</pre>"
    )
    assert check_article("标题", result, has_photo=False) is None
    assert markdown_to_html("a < b & **c**") == "a &lt; b &amp; <b>c</b>"


def png(path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())


def test_a_good_file_is_read_completely(tmp_path: Path) -> None:
    png(tmp_path / "cover.png")
    text = """---
title: 国家宪法日
audience:
  schools: [胡杨河市第一中学, 5]
  roles: [student, teacher]
publish_at: 2025-12-04 09:00
cover: cover.png
link: https://example.org/xianfa
---
**学宪法**，讲宪法。
"""
    article = parse_article_file(text, tmp_path, SHANGHAI, NOW)
    assert article.title == "国家宪法日"
    assert article.body == "<b>学宪法</b>，讲宪法。"
    assert article.publish_at == datetime(2025, 12, 4, 1, 0, tzinfo=UTC)
    assert article.schools == ["胡杨河市第一中学", "5"]
    assert article.roles == [Role.STUDENT, Role.TEACHER]
    assert article.cover is not None and article.link == "https://example.org/xianfa"


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    text = """---
audience:
  roles: [pupil]
  classes: [x]
publish_at: 2020-01-01 08:00
cover: missing.jpg
link: ftp://example.org
colour: red
---
正文
"""
    with pytest.raises(ArticleFileError) as caught:
        parse_article_file(text, tmp_path, SHANGHAI, NOW)
    problems = "\n".join(caught.value.problems)
    for expected in [
        "title: missing",
        "'pupil' is not student",
        "unknown keys classes",
        "publish_at: that time has passed",
        "cover: no file",
        "link: give an address",
        "unknown front matter keys: colour",
    ]:
        assert expected in problems
    with pytest.raises(ArticleFileError, match="caption is 1103 characters"):
        png(tmp_path / "c.png")
        parse_article_file(
            "---\ntitle: 长\ncover: c.png\n---\n" + "字" * 1100, tmp_path, SHANGHAI, NOW
        )


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(session_factory)


async def test_storing_resolves_names_and_starts_or_schedules(
    database_url: str, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    await add_people(session_factory, range(100, 104), world.classes["七年级1班"].id)
    await add_people(session_factory, range(104, 106), world.schools["一三一团中学"].id)
    now = datetime.now(UTC)
    text = "---\ntitle: 到校\naudience:\n  regiments: [129团]\n---\n正文"
    created = await store_article_file(
        database_url,
        parse_article_file(text, Path("."), SHANGHAI, now),
        author=None,
        locale="zh-CN",
    )
    assert created.recipients == 4 and created.broadcast_id is not None
    assert await status_counts(session_factory, created.broadcast_id) == {"pending": 4}

    later = "---\ntitle: 以后\npublish_at: 2099-01-01 08:00\n---\n正文"
    scheduled = await store_article_file(
        database_url,
        parse_article_file(later, Path("."), SHANGHAI, now),
        author=7,
        locale="zh-CN",
    )
    assert scheduled.broadcast_id is None and scheduled.recipients == 6
    async with session_factory() as session:
        stored = await PublicityRepository(session).article(scheduled.article_id)
    assert stored is not None and stored.status.value == "scheduled" and stored.author_id == 7

    unknown = "---\ntitle: x\naudience:\n  schools: [不存在的学校]\n---\n正文"
    with pytest.raises(ArticleFileError, match="no '不存在的学校'"):
        await store_article_file(
            database_url,
            parse_article_file(unknown, Path("."), SHANGHAI, now),
            author=None,
            locale="zh-CN",
        )


def test_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    good = tmp_path / "good.md"
    good.write_text("---\ntitle: 宪法\n---\n**学**宪法", encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: 宪法\nlink: nope\n---\n正文", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["article", "create", str(good), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "ok, 0 recipients" in result.output
    result = runner.invoke(main, ["article", "create", str(bad)])
    assert result.exit_code == 1
    assert "link: give an address" in result.output


def test_scheduling_a_lecture_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PUFA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    args = ["lecture", "create", "--title", "宪法", "--speaker", "李老师", "--minutes", "45"]
    result = runner.invoke(main, [*args, "--at", "2099-01-01 09:00", "--role", "student"])
    assert result.exit_code == 0, result.output
    assert "lecture 1: announcement to 0 recipients started, reminder scheduled" in result.output
    result = runner.invoke(main, [*args, "--at", "tomorrow"])
    assert result.exit_code == 2 and "YYYY-MM-DD HH:MM" in result.output
    result = runner.invoke(main, [*args, "--at", "2099-01-01 09:00", "--school", "无此校"])
    assert result.exit_code == 1 and "no '无此校'" in result.output


async def test_channel_in_the_front_matter(
    database_url: str, session_factory: async_sessionmaker[AsyncSession], world: World
) -> None:
    await add_people(session_factory, range(120, 122), world.classes["七年级2班"].id)
    now = datetime.now(UTC)
    text = "---\ntitle: 频道也发\nchannel: true\n---\n正文"
    parsed = parse_article_file(text, Path("."), SHANGHAI, now)
    assert parsed.channel is True
    with pytest.raises(ArticleFileError, match="PUFA_PUBLICITY_CHANNEL is not set"):
        await store_article_file(database_url, parsed, author=None, locale="zh-CN")
    created = await store_article_file(
        database_url, parsed, author=None, locale="zh-CN", channel="@pufa_news"
    )
    assert created.broadcast_id is not None and created.recipients == 2
    async with session_factory() as session:
        repo = PublicityRepository(session)
        stored = await repo.article(created.article_id)
        post = await repo.channel_post(created.broadcast_id)
    assert stored is not None and stored.to_channel
    assert post is not None and (post.chat, post.status.value) == ("@pufa_news", "pending")
    with pytest.raises(ArticleFileError, match="channel: true or false"):
        parse_article_file("---\ntitle: x\nchannel: maybe\n---\n", Path("."), SHANGHAI, now)
