"""Routers, one per conversation, built fresh for each Dispatcher.

Order matters: errors and admin first, the fallback that answers everything else last.
"""

from aiogram import Router

from handlers import (
    admin,
    banks,
    campaign_setup,
    errors,
    fallback,
    lectures,
    livequiz,
    membership,
    profile,
    publicity,
    quiz,
    reports,
    results,
    start,
)


def get_routers() -> list[Router]:
    modules = (
        errors,
        admin,
        membership,
        start,
        profile,
        quiz,
        results,
        livequiz,
        banks,
        publicity,
        lectures,
        reports,
        campaign_setup,
        fallback,
    )
    return [module.create_router() for module in modules]
