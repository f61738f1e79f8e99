"""法治副校长: the legal vice-principal each school appoints from a court, procuratorate,
police station or justice bureau, who teaches its pupils the law."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# What the report groups them by; a free-text organisation names the exact office.
ORGANISATION_KINDS: tuple[str, ...] = ("法院", "检察院", "公安", "司法局", "律师事务所", "其他")


@dataclass(frozen=True, slots=True)
class VicePrincipal:
    school_id: int
    name: str
    organisation_kind: str
    organisation: str
    appointed_on: date
    ended_on: date | None = None


def organisation_kind_of(organisation: str) -> str:
    """The kind an organisation's name says (…人民法院 → 法院); 其他 when it says none."""
    for kind, words in (
        ("检察院", ("检察院",)),
        ("法院", ("法院", "法庭")),
        ("公安", ("公安", "派出所", "警")),
        ("司法局", ("司法局", "司法所")),
        ("律师事务所", ("律师",)),
    ):
        if any(word in organisation for word in words):
            return kind
    return "其他"
