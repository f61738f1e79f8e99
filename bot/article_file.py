"""``pufa article create FILE``: an article written as Markdown with YAML front matter.

    ---
    title: 国家宪法日 | 学宪法 讲宪法
    audience:                      # omit (or "all") for every subscriber
      schools: [胡杨河市第一中学]    # names or ids; also: regiments, units (ids)
      roles: [student, teacher]
    publish_at: 2025-12-04 09:00   # in PUFA_TIMEZONE; omit to send now
    cover: cover.jpg               # relative to the file; sent as a photo with caption
    link: https://example.org/xianfa
    channel: true                  # also post it to PUFA_PUBLICITY_CHANNEL
    ---
    **宪法**是国家的根本法……

The Markdown becomes Telegram HTML (bold, italics, strikethrough, code, links, headings
as bold lines, quotes, lists as bullets) and is checked exactly like a post typed in chat.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from bot.article_format import check_article
from quizzes.participants import Role
from quizzes.publicity import TIME_FORMAT, Audience, ComposeProblem, valid_link
from quizzes.themes import Theme
from quizzes.units import UnitKind
from storage.repositories import UnitRepository

MAX_COVER = 10 * 1024 * 1024


class ArticleFileError(Exception):
    """Everything wrong with the file, one problem per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ArticleFile:
    title: str
    body: str  # Telegram HTML
    link: str | None = None
    publish_at: datetime | None = None
    cover: bytes | None = None
    schools: list[str] = field(default_factory=list)
    regiments: list[str] = field(default_factory=list)
    unit_ids: list[int] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    channel: bool = False


# ---------------------------------------------------------------------- Markdown


_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
# "*" may sit inside words (Chinese has no spaces); "_" may not (snake_case stays).
_ITALIC = re.compile(
    r"(?<!\*)\*(?=\S)([^*\n]+?)(?<=\S)\*(?!\*)|(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"
)
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+")


def _inline(text: str) -> str:
    """One line of Markdown as Telegram HTML; code spans are left alone inside."""
    codes: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        codes.append(f"<code>{html.escape(match.group(1), quote=False)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE_SPAN.sub(keep_code, text)
    links: list[str] = []

    def keep_link(match: re.Match[str]) -> str:
        label = _emphasis(html.escape(match.group(1), quote=False))
        links.append(f'<a href="{html.escape(match.group(2))}">{label}</a>')
        return f"\x01{len(links) - 1}\x01"

    text = _LINK.sub(keep_link, text)
    text = _emphasis(html.escape(text, quote=False))
    text = re.sub("\x01(\\d+)\x01", lambda m: links[int(m.group(1))], text)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], text)


def _emphasis(text: str) -> str:
    text = _BOLD.sub(lambda m: f"<b>{m.group(2)}</b>", text)
    text = _STRIKE.sub(lambda m: f"<s>{m.group(1)}</s>", text)
    return _ITALIC.sub(lambda m: f"<i>{m.group(1) or m.group(2)}</i>", text)


def markdown_to_html(source: str) -> str:
    """The Markdown most articles use, as the HTML subset Telegram accepts."""
    blocks: list[str] = []
    lines = source.replace("\r\n", "\n").split("\n")
    paragraph: list[str] = []
    quote: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append("\n".join(paragraph))
            paragraph.clear()
        if quote:
            blocks.append(f"<blockquote>{chr(10).join(quote)}</blockquote>")
            quote.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        if line.strip().startswith("```"):
            flush()
            code: list[str] = []
            index += 1
            while index < len(lines) and not lines[index].strip().startswith("```"):
                code.append(lines[index])
                index += 1
            blocks.append(f"<pre>{html.escape(chr(10).join(code), quote=False)}</pre>")
        elif not line.strip():
            flush()
        elif heading := _HEADING.match(line):
            flush()
            blocks.append(f"<b>{_inline(heading.group(1))}</b>")
        elif line.lstrip().startswith(">"):
            if paragraph:
                flush()
            quote.append(_inline(line.lstrip()[1:].strip()))
        else:
            if quote:
                flush()
            bullet = _BULLET.match(line)
            paragraph.append("• " + _inline(line[bullet.end() :]) if bullet else _inline(line))
        index += 1
    flush()
    return "\n\n".join(blocks)


# ---------------------------------------------------------------------- the file


def _list(value: Any, name: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return [str(v) for v in value]
    problems.append(f"audience.{name}: give a name or a list of names")
    return []


def parse_article_file(text: str, folder: Path, zone: Any, now: datetime) -> ArticleFile:
    """Read front matter and Markdown; raise :class:`ArticleFileError` with every problem."""
    problems: list[str] = []
    text = text.lstrip("\ufeff")
    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        parts = re.split(r"^---\s*$", text, maxsplit=2, flags=re.MULTILINE)
        if len(parts) < 3:
            raise ArticleFileError(["the front matter has no closing ---"])
        try:
            loaded = yaml.safe_load(parts[1]) or {}
        except yaml.YAMLError as error:
            raise ArticleFileError([f"front matter: {error}"]) from None
        if not isinstance(loaded, dict):
            raise ArticleFileError(["front matter: expected key: value lines"])
        meta, body = loaded, parts[2]
    unknown = set(meta) - {"title", "audience", "publish_at", "cover", "link", "channel"}
    if unknown:
        problems.append(f"unknown front matter keys: {', '.join(sorted(map(str, unknown)))}")

    title = str(meta.get("title") or "").strip()
    if not title:
        problems.append("title: missing")
    article = ArticleFile(title=title, body=markdown_to_html(body.strip()))

    link = meta.get("link")
    if link is not None:
        if not isinstance(link, str) or not valid_link(link.strip()):
            problems.append("link: give an address starting with http:// or https://")
        else:
            article.link = link.strip()

    channel = meta.get("channel")
    if channel is not None:
        if isinstance(channel, bool):
            article.channel = channel
        else:
            problems.append("channel: true or false")

    when = meta.get("publish_at")
    if when is not None:
        try:
            if isinstance(when, datetime):  # YAML reads an unquoted timestamp itself
                moment = when if when.tzinfo else when.replace(tzinfo=zone)
            else:
                moment = datetime.strptime(" ".join(str(when).split()), TIME_FORMAT).replace(
                    tzinfo=zone
                )
        except ValueError:
            problems.append("publish_at: write it as YYYY-MM-DD HH:MM")
        else:
            if moment <= now:
                problems.append("publish_at: that time has passed")
            article.publish_at = moment

    cover = meta.get("cover")
    if cover is not None:
        path = folder / str(cover)
        if not path.is_file():
            problems.append(f"cover: no file {path}")
        elif path.stat().st_size > MAX_COVER:
            problems.append("cover: larger than 10 MB")
        else:
            article.cover = path.read_bytes()

    audience = meta.get("audience")
    if isinstance(audience, str) and audience.strip().lower() in ("all", "everyone", "全体"):
        audience = None
    if audience is not None and not isinstance(audience, dict):
        problems.append("audience: all, or schools / regiments / units / roles")
    elif isinstance(audience, dict):
        extra = set(audience) - {"schools", "regiments", "units", "roles"}
        if extra:
            problems.append(f"audience: unknown keys {', '.join(sorted(map(str, extra)))}")
        article.schools = _list(audience.get("schools"), "schools", problems)
        article.regiments = _list(audience.get("regiments"), "regiments", problems)
        for unit in _list(audience.get("units"), "units", problems):
            if unit.isdigit():
                article.unit_ids.append(int(unit))
            else:
                problems.append(f"audience.units: {unit!r} is not a unit id")
        for role in _list(audience.get("roles"), "roles", problems):
            try:
                article.roles.append(Role(role))
            except ValueError:
                problems.append(f"audience.roles: {role!r} is not student, teacher or parent")

    if title:
        found = check_article(title, article.body, has_photo=article.cover is not None)
        if found is not None:
            if found.problem is None:
                problems.append(f"Telegram would not accept the formatting: {found.detail}")
            elif found.problem in (ComposeProblem.TEXT_TOO_LONG, ComposeProblem.CAPTION_TOO_LONG):
                what = "caption" if found.problem is ComposeProblem.CAPTION_TOO_LONG else "text"
                problems.append(
                    f"the {what} is {found.length} characters; Telegram allows {found.limit}"
                )
            else:
                problems.append(f"title: {found.problem.value.replace('_', ' ')}")
    if problems:
        raise ArticleFileError(problems)
    return article


async def resolve_audience(
    session: AsyncSession,
    *,
    schools: list[str],
    regiments: list[str],
    unit_ids: list[int],
    roles: list[Role],
) -> Audience:
    """Turn school and regiment names into unit ids; raise on unknown or ambiguous names."""
    units = UnitRepository(session)
    problems: list[str] = []
    ids = set(unit_ids)
    for unit_id in unit_ids:
        if await units.get(unit_id) is None:
            problems.append(f"audience.units: no unit {unit_id}")
    for name in schools:
        found = await units.find_school(name)
        if len(found) != 1:
            problems.append(f"audience.schools: {'no' if not found else 'several'} {name!r}")
        else:
            ids.add(found[0].id)
    known = await units.of_kind(UnitKind.REGIMENT)
    for name in regiments:
        found = [r for r in known if r.name == name or str(r.id) == name]
        if len(found) != 1:
            problems.append(f"audience.regiments: {'no' if not found else 'several'} {name!r}")
        else:
            ids.add(found[0].id)
    if problems:
        raise ArticleFileError(problems)
    return Audience(frozenset(ids), frozenset(roles))


@dataclass(frozen=True)
class Created:
    article_id: int
    recipients: int
    broadcast_id: int | None
    publish_at: datetime | None


def read_article_file(path: Path, zone: Any, now: datetime) -> ArticleFile:
    return parse_article_file(path.read_text(encoding="utf-8"), path.parent, zone, now)


async def store_article_file(
    database_url: str,
    parsed: ArticleFile,
    *,
    author: int | None,
    locale: str,
    dry_run: bool = False,
    channel: str | None = None,
    theme: Theme | None = None,
) -> Created:
    """Store a checked article: scheduled when it names a time, otherwise with its
    deliveries written at once, for the running bot's broadcaster to send.

    ``channel`` is the configured channel; an article asking for it needs one."""
    if parsed.channel and channel is None:
        raise ArticleFileError(["channel: PUFA_PUBLICITY_CHANNEL is not set"])
    from quizzes.publicity import ArticleStatus
    from storage.database import create_engine, create_session_factory
    from storage.migrate import prepare_database
    from storage.publicity import PublicityRepository

    engine = create_engine(database_url)
    try:
        await prepare_database(engine)
        async with create_session_factory(engine)() as session:
            audience = await resolve_audience(
                session,
                schools=parsed.schools,
                regiments=parsed.regiments,
                unit_ids=parsed.unit_ids,
                roles=parsed.roles,
            )
            repo = PublicityRepository(session)
            recipients = await repo.count_audience(audience)
            if dry_run:
                return Created(0, recipients, None, parsed.publish_at)
            article = await repo.create_article(
                title=parsed.title,
                body=parsed.body,
                author_id=author or 0,
                audience=audience,
                link=parsed.link,
                photo_bytes=parsed.cover,
                publish_at=parsed.publish_at,
                status=ArticleStatus.SCHEDULED if parsed.publish_at else ArticleStatus.DRAFT,
                to_channel=parsed.channel,
                theme=theme,
            )
            broadcast_id = None
            if parsed.publish_at is None:
                broadcast = await repo.start_broadcast(
                    article.id,
                    created_by=author or 0,
                    locale=locale,
                    progress_chat_id=author,
                    channel=channel,
                )
                broadcast_id, recipients = broadcast.id, broadcast.total
            await repo.commit()
    finally:
        await engine.dispose()
    return Created(article.id, recipients, broadcast_id, parsed.publish_at)
