"""The kinds of activity a school or the bureau records, as data.

A kind is a code (stored in the database), the names teachers write in the import
template (the first Chinese one is also how the report names it), the theme it usually
has, and whether a speaker must be named. Adding a kind is one entry here plus its
label in the two message catalogs (``activity.kind.<code>``); docs/DEVELOPING.md walks
through it with 宪法晨读.

Online lectures are a kind too (``online_lecture``): each lecture scheduled with
/newlecture has its activity, and its participation records are the check-ins of
registered people rather than headcounts, so nobody records one by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from quizzes.themes import Theme


@dataclass(frozen=True, slots=True)
class ActivityKind:
    code: str
    names: tuple[str, ...]  # zh first: the report's name; then what teachers also write
    default_theme: Theme = Theme.CONSTITUTION
    needs_speaker: bool = False
    # Lectures by a school's 法治副校长: the report counts them per school.
    by_vice_principal: bool = False
    # Taken part in by checking in (registered people, counted by the bot): an online
    # lecture, made by scheduling it; never recorded by hand nor imported.
    checked_in: bool = False

    @property
    def zh(self) -> str:
        return self.names[0]


KINDS: tuple[ActivityKind, ...] = (
    ActivityKind(
        "vice_principal_lecture",
        ("法治副校长讲座", "法治副校长授课", "法治副校长上课", "legal vice-principal lecture"),
        needs_speaker=True,
        by_vice_principal=True,
    ),
    ActivityKind("lecture", ("法治讲座", "讲座", "法治报告会", "lecture"), needs_speaker=True),
    ActivityKind(
        "online_lecture",
        ("线上讲座", "网络公开课", "online lecture"),
        needs_speaker=True,
        checked_in=True,
    ),
    ActivityKind("morning_reading", ("宪法晨读", "晨读", "morning reading")),
    ActivityKind("class_meeting", ("主题班会", "法治主题班会", "班会", "class meeting")),
    ActivityKind("oath", ("宪法宣誓", "宣誓仪式", "oath")),
    ActivityKind("visit", ("参观法治教育基地", "参观", "研学", "visit")),
    ActivityKind("moot_court", ("模拟法庭", "moot court")),
    ActivityKind(
        "contest",
        ("法治主题比赛", "比赛", "演讲比赛", "征文比赛", "手抄报比赛", "知识竞赛", "contest"),
    ),
    ActivityKind(
        "teacher_training", ("教职工法治培训", "教师法治培训", "教师培训", "teacher training")
    ),
    ActivityKind("parent_session", ("家长法治课堂", "家长会", "家长课堂", "parent session")),
    ActivityKind("other", ("其他活动", "其他", "other"), default_theme=Theme.OTHER),
)

# What a school or the bureau records itself (/activity, the import template).
RECORDED_BY_HAND: tuple[ActivityKind, ...] = tuple(k for k in KINDS if not k.checked_in)
ONLINE_LECTURE = "online_lecture"
CHECKED_IN_CODES: tuple[str, ...] = tuple(k.code for k in KINDS if k.checked_in)

_BY_CODE = {kind.code: kind for kind in KINDS}


def kind_named(code: str) -> ActivityKind:
    """The kind stored under ``code``; an unknown code (a kind since removed) is 其他."""
    return _BY_CODE.get(code, _BY_CODE["other"])


def is_kind(code: str) -> bool:
    """A kind someone may record by hand (online lectures are scheduled instead)."""
    return code in _BY_CODE and not _BY_CODE[code].checked_in


def kind_for_name(text: str) -> ActivityKind | None:
    """The kind a spreadsheet cell names (its code or any of its names), of those
    recorded by hand."""
    import unicodedata

    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    for kind in RECORDED_BY_HAND:
        if folded == kind.code or folded in (name.casefold() for name in kind.names):
            return kind
    return None
