"""Routers, one per conversation, built fresh for each Dispatcher.

Order matters: errors first, then the quiz (its answers are most of the traffic when a
school answers at once, and every router passed costs each update its filters), the
fallback that answers everything else last. The quiz's filters are its own commands
and callback prefixes, so it takes nothing from the routers after it.
"""

from aiogram import Router

from handlers import (
    activities,
    admin,
    banks,
    calendar,
    campaign_setup,
    certificates,
    dialogue,
    errors,
    fallback,
    lectures,
    link,
    livequiz,
    membership,
    privacy,
    profile,
    publicity,
    quiz,
    reports,
    results,
    shortlist,
    start,
    web,
)


def get_routers() -> list[Router]:
    modules = (
        errors,
        quiz,
        dialogue,
        admin,
        membership,
        start,
        profile,
        certificates,
        privacy,
        shortlist,
        results,
        livequiz,
        banks,
        publicity,
        lectures,
        reports,
        campaign_setup,
        activities,
        calendar,
        web,
        link,
        fallback,
    )
    return [module.create_router() for module in modules]
