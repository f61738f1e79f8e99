"""The participant pages (``/m/``): join with a class's invite code, take a quiz, see the
result and download the certificate, on any phone's browser, without Telegram.

Server-rendered forms that work without JavaScript, with the dashboard's security
headers and language switch. Every rule is a use case's
(:mod:`bot.application.web_participants`, :mod:`bot.application.quiz`); a view parses
the request, calls one, and renders or redirects (after a POST, always a redirect, so a
reload never sends a form twice).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.application import Clock, UnitOfWork, system_clock
from bot.application.certificates import Certificate, issue_certificate
from bot.application.lectures import CheckinClosed, CheckinRefusal
from bot.application.question_pictures import attempt_picture
from bot.application.quiz import open_campaigns, start_attempt
from bot.application.web_participants import (
    ARTICLE_DAYS,
    AnswerRefusal,
    AttemptPage,
    JoinRefusal,
    Signed,
    answer,
    attempt_page,
    check_in,
    invite,
    join,
    move,
    read_article,
    recover,
    signed_in,
    unit_articles,
    unit_lectures,
)
from bot.article_format import article_html
from bot.campaign_messages import answer_given, option_text, options_shown
from bot.certificates import CertificateText, render_certificate
from bot.i18n import Gettext, Translator
from bot.recent_tries import RECOVERY_TRIES, RecentTries, Tries
from bot.verification import verify_url
from bot.web.addresses import client_address
from bot.web.sessions import chosen_language, remember_language
from bot.web.views import SECURITY_HEADERS
from bot.web.views import _environment as templates  # one folder, the same settings
from bot.when import short_when, span_when
from quizzes.attempts import Verdict
from quizzes.bank import QuestionType
from quizzes.certificates import grouped
from quizzes.engine import LETTERS, shows_deadline
from quizzes.lectures import CHECKIN_EARLY
from quizzes.statistics import score_percent

if TYPE_CHECKING:
    from storage.presses import DirectPresses

HERE = Path(__file__).parent
PATH = "/m"
DEVICE_COOKIE = "pufa_participant"
FORM_COOKIE = "pufa_form"  # the join and recovery forms' token, before anyone is signed in
DEVICE_COOKIE_DAYS = 400  # the longest a browser keeps a cookie
NOTICES = frozenset(v.value for v in Verdict) | frozenset(r.value for r in AnswerRefusal)
CHECKIN_NOTICES = frozenset({"checked_in", "already_checked_in"})


@dataclass
class ParticipantPages:
    """What the participant pages need, created once with the web app."""

    session_factory: async_sessionmaker[AsyncSession]
    translator: Translator
    key: bytes  # bot.application.web_participants.participant_key
    zone: ZoneInfo
    secure: bool = False  # the public URL is https: cookies are Secure
    clock: Clock = system_clock
    issuer: str | None = None
    public_url: str | None = None  # where certificates are verified (bot.verification)
    # Per client address; shared by the processes through Redis (bot.recent_tries).
    recovery_tries: RecentTries = field(default_factory=lambda: Tries(RECOVERY_TRIES))
    presses: DirectPresses | None = None  # an answer's statements on the driver, as in chat

    @contextlib.asynccontextmanager
    async def uow(self) -> AsyncIterator[UnitOfWork]:
        async with self.session_factory() as session:
            yield UnitOfWork.over(session, self.presses)

    def gettext(self, request: web.Request, locale: str | None) -> Gettext:
        return self.translator.bind(chosen_language(request) or locale)

    def page(
        self, request: web.Request, template: str, _: Gettext, *, status: int = 200, **context: Any
    ) -> web.Response:
        body = templates.get_template(f"m/{template}").render(
            t=_.plain,
            locale=_.locale,
            other_locale="en" if _.locale != "en" else "zh-CN",
            base=PATH,
            **context,
        )
        response = web.Response(
            status=status, text=body, content_type="text/html", charset="utf-8"
        )
        response.headers.update(SECURITY_HEADERS)
        remember_language(request, response, path=f"{PATH}/", secure=self.secure)
        return response

    def message(
        self, request: web.Request, _: Gettext, key: str, status: int, **context: Any
    ) -> web.Response:
        return self.page(request, "message.html.j2", _, status=status, message_key=key, **context)

    def redirect(self, location: str) -> web.Response:
        response = web.Response(status=303, headers={"Location": location})
        response.headers.update(SECURITY_HEADERS)
        return response

    def bind_device(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            DEVICE_COOKIE,
            token,
            path=f"{PATH}/",
            max_age=DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=self.secure,
        )

    def form_page(
        self, request: web.Request, template: str, _: Gettext, *, status: int = 200, **context: Any
    ) -> web.Response:
        """A page with a form for someone not signed in yet: its token is also a cookie."""
        token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
        response = self.page(request, template, _, status=status, form_token=token, **context)
        response.set_cookie(
            FORM_COOKIE, token, path=f"{PATH}/", httponly=True, samesite="Lax", secure=self.secure
        )
        return response

    @staticmethod
    def form_token_ok(request: web.Request, form: Any) -> bool:
        sent, kept = form.get("form_token"), request.cookies.get(FORM_COOKIE)
        return isinstance(sent, str) and bool(kept) and secrets.compare_digest(sent, kept or "")

    async def _signed(self, request: web.Request, uow: UnitOfWork) -> Signed | None:
        return await signed_in(
            uow, request.cookies.get(DEVICE_COOKIE), key=self.key, now=self.clock()
        )

    async def _posted(
        self, request: web.Request, uow: UnitOfWork, form: Any, id_name: str
    ) -> tuple[Signed, Gettext, int] | web.Response:
        """Who posted a form about the path's id ``id_name``, in their language, and the
        id; or the page to answer instead (home when signed out, a stale form's when its
        token or the id is not right)."""
        signed = await self._signed(request, uow)
        if signed is None:
            return self.redirect(f"{PATH}/")
        _ = self.gettext(request, signed.participant.locale)
        number = id_number(request.match_info[id_name])
        if not _csrf_ok(form, signed) or number is None:
            return self.message(request, _, "m.bad_form", 403, link_home=True)
        return signed, _, number

    async def _attempt(
        self, uow: UnitOfWork, signed: Signed, attempt_id: int | None
    ) -> AttemptPage | None:
        if attempt_id is None:
            return None
        return await attempt_page(
            uow, signed.participant, attempt_id, key=self.key, clock=self.clock
        )

    # -- joining and recovering --------------------------------------------------------

    async def join_page(self, request: web.Request) -> web.StreamResponse:
        code = request.match_info["code"]
        async with self.uow() as uow:
            signed = await self._signed(request, uow)
            found = await invite(uow, code)
        _ = self.gettext(request, signed.participant.locale if signed else None)
        if isinstance(found, JoinRefusal):
            return self.message(request, _, f"m.join.{found.value}", 404, link_home=False)
        if signed is not None:  # this device has joined already: one person, not two
            if signed.participant.unit_id == found.unit_id:
                return self.redirect(f"{PATH}/")
            return self.page(request, "move.html.j2", _, invite=found, code=code, signed=signed)
        return self.form_page(request, "join.html.j2", _, invite=found, code=code, error=None)

    async def join_post(self, request: web.Request) -> web.StreamResponse:
        code = request.match_info["code"]
        form = await request.post()
        async with self.uow() as uow:
            signed = await self._signed(request, uow)
            if signed is not None:
                _ = self.gettext(request, signed.participant.locale)
                if not _csrf_ok(form, signed):
                    return self.message(request, _, "m.bad_form", 403, link_home=True)
                moved = await move(uow, signed.participant, code, clock=self.clock)
                if isinstance(moved, JoinRefusal):
                    return self.message(request, _, f"m.join.{moved.value}", 404, link_home=True)
                return self.redirect(f"{PATH}/")
        _ = self.gettext(request, None)
        if not self.form_token_ok(request, form):
            return self.message(request, _, "m.bad_form", 403, link_home=True)
        name = form.get("name")
        async with self.uow() as uow:
            joined = await join(
                uow,
                code,
                name if isinstance(name, str) else "",
                locale=_.locale,
                key=self.key,
                clock=self.clock,
            )
            found = await invite(uow, code) if isinstance(joined, JoinRefusal) else None
        if isinstance(joined, JoinRefusal):
            if found is None or isinstance(found, JoinRefusal):
                return self.message(request, _, f"m.join.{joined.value}", 404, link_home=False)
            return self.form_page(
                request, "join.html.j2", _, status=422, invite=found, code=code, error=joined.value
            )
        response = self.page(
            request,
            "joined.html.j2",
            _,
            participant=joined.participant,
            recovery=joined.recovery_code,
            keep_page=True,  # shown once: no link that would leave it
        )
        self.bind_device(response, joined.token)
        return response

    async def recover_page(self, request: web.Request) -> web.StreamResponse:
        _ = self.gettext(request, None)
        return self.form_page(request, "recover.html.j2", _, error=None)

    async def recover_post(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        _ = self.gettext(request, None)
        if not self.form_token_ok(request, form):
            return self.message(request, _, "m.bad_form", 403, link_home=True)
        error = None
        if not await self.recovery_tries.allow(f"address:{client_address(request)}"):
            error, status = "too_many", 429
        else:
            typed = form.get("code")
            async with self.uow() as uow:
                device = await recover(
                    uow, typed if isinstance(typed, str) else "", key=self.key, now=self.clock()
                )
            if device is not None:
                response = self.redirect(f"{PATH}/")
                self.bind_device(response, device.token)
                return response
            error, status = "wrong_code", 400
        return self.form_page(request, "recover.html.j2", _, status=status, error=error)

    # -- home and the quiz ---------------------------------------------------------------

    async def home(self, request: web.Request) -> web.StreamResponse:
        async with self.uow() as uow:
            signed = await self._signed(request, uow)
            if signed is None:
                _ = self.gettext(request, None)
                return self.message(request, _, "m.signed_out", 200, link_home=False, recover=True)
            now = self.clock()
            found = await open_campaigns(uow, signed.participant, now=now)
            articles = await unit_articles(uow, signed.participant, now=now)
            coming = await unit_lectures(uow, signed.participant, now=now)
        _ = self.gettext(request, signed.participant.locale)
        notice = request.query.get("notice")
        return self.page(
            request,
            "home.html.j2",
            _,
            participant=signed.participant,
            open=found,
            csrf=signed.csrf,
            articles=[
                (a, short_when(a.publish_at or a.created_at, self.zone, _.plain)) for a in articles
            ],
            lectures=[
                (
                    lecture,
                    span_when(lecture.starts_at, lecture.ends_at, self.zone, _.plain),
                    lecture.checkin_problem(now) is None,
                    short_when(lecture.starts_at - CHECKIN_EARLY, self.zone, _.plain),
                    checked.astimezone(self.zone).strftime("%H:%M") if checked else None,
                )
                for lecture, checked in ((c.lecture, c.checked_in_at) for c in coming)
            ],
            percent=score_percent,
            notice=notice if notice in CHECKIN_NOTICES else None,
            article_days=ARTICLE_DAYS,
        )

    # -- articles and check-ins --------------------------------------------------------

    async def article(self, request: web.Request) -> web.StreamResponse:
        article_id = id_number(request.match_info["article_id"])
        async with self.uow() as uow:
            signed = await self._signed(request, uow)
            if signed is None:
                return self.redirect(f"{PATH}/")
            _ = self.gettext(request, signed.participant.locale)
            found = (
                await read_article(uow, signed.participant, article_id, now=self.clock())
                if article_id is not None
                else None
            )
        if found is None:
            return self.message(request, _, "m.articles.unknown", 404, link_home=True)
        return self.page(
            request,
            "article.html.j2",
            _,
            article=found,
            body=Markup(article_html(found.body)),
            when=short_when(found.publish_at or found.created_at, self.zone, _.plain),
        )

    async def check_in_post(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        async with self.uow() as uow:
            posted = await self._posted(request, uow, form, "lecture_id")
            if isinstance(posted, web.Response):
                return posted
            signed, _, lecture_id = posted
            checked = await check_in(uow, signed.participant, lecture_id, now=self.clock())
        if checked is CheckinRefusal.UNKNOWN:
            return self.message(request, _, "m.lectures.unknown", 404, link_home=True)
        if isinstance(checked, CheckinClosed):
            text = _.plain(
                f"lecture.checkin_{checked.problem.value}",
                opens=short_when(checked.opens, self.zone, _.plain),
                closes=short_when(checked.closes, self.zone, _.plain),
            )
            return self.message(request, _, "", 409, link_home=True, message_text=text)
        notice = "checked_in" if checked.first else "already_checked_in"
        return self.redirect(f"{PATH}/?notice={notice}")

    async def start(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        async with self.uow() as uow:
            posted = await self._posted(request, uow, form, "campaign_id")
            if isinstance(posted, web.Response):
                return posted
            signed, _, campaign_id = posted
            begun = await start_attempt(
                uow, campaign_id, signed.participant, chat_id=None, clock=self.clock
            )
        if begun is None:
            return self.message(request, _, "quiz.refused.not_open", 404, link_home=True)
        started = begun.started
        if started.refusal is not None or started.attempt is None:
            reason = started.refusal.value if started.refusal else "not_open"
            return self.message(request, _, f"quiz.refused.{reason}", 403, link_home=True)
        return self.redirect(f"{PATH}/attempts/{started.attempt.id}")

    async def attempt(self, request: web.Request) -> web.StreamResponse:
        attempt_id = id_number(request.match_info["attempt_id"])
        async with self.uow() as uow:
            signed = await self._signed(request, uow)
            if signed is None:
                return self.redirect(f"{PATH}/")
            _ = self.gettext(request, signed.participant.locale)
            shown = await self._attempt(uow, signed, attempt_id)
        if shown is None:
            return self.message(request, _, "m.not_yours", 404, link_home=True)
        if shown.question is None and shown.result is None:  # nothing a page can show
            return self.message(request, _, "m.bad_form", 409, link_home=True)
        notice = request.query.get("notice")
        notice = notice if notice in NOTICES else None
        if shown.question is None:
            return self.page(
                request,
                "result.html.j2",
                _,
                shown=shown,
                percent=score_percent,
                notice=notice,
                missed=missed_lines(shown, _),
            )
        feedback = None
        if shown.previous is not None and notice is None:
            before = shown.previous
            feedback = (
                _.plain("quiz.feedback.right_note")
                if (before.points or 0) >= 1
                else _.plain(
                    "quiz.feedback.wrong_note",
                    answer=options_shown(
                        before.question, before.order, before.question.correct, _.plain
                    ),
                )
            )
        question = shown.question
        stored = question.question
        options = [
            (position, LETTERS[position], option_text(stored, original, _.plain))
            for position, original in enumerate(question.order)
        ]
        deadline = question.deadline
        now = self.clock()
        if deadline is not None and not shows_deadline(
            deadline, timed=shown.campaign.rules.timed, now=now, zone=self.zone
        ):
            deadline = None  # as in chat: a far-off window's end is not a question's time
        return self.page(
            request,
            "question.html.j2",
            _,
            shown=shown,
            question=question,
            options=options,
            multiple=stored.type is QuestionType.MULTIPLE,
            csrf=signed.csrf,
            notice=notice,
            feedback=feedback,
            deadline=deadline.astimezone(self.zone).strftime("%H:%M:%S") if deadline else None,
        )

    async def answer_post(self, request: web.Request) -> web.StreamResponse:
        attempt_id = id_number(request.match_info["attempt_id"])
        form = await request.post()
        here = f"{PATH}/attempts/{attempt_id}"
        async with self.uow() as uow:
            signed = await self._signed(request, uow)
            if signed is None:
                return self.redirect(f"{PATH}/")
            _ = self.gettext(request, signed.participant.locale)
            seq = id_number(str(form.get("seq", "")))
            signature = form.get("sig")
            if (
                not _csrf_ok(form, signed)
                or attempt_id is None
                or seq is None
                or not isinstance(signature, str)
            ):
                return self.message(request, _, "m.bad_form", 403, link_home=True)
            positions = frozenset(
                number
                for value in form.getall("option", [])
                if (number := id_number(str(value))) is not None and number < len(LETTERS)
            )
            step = await answer(
                uow,
                signed.participant,
                attempt_id,
                seq,
                positions,
                signature,
                key=self.key,
                clock=self.clock,
            )
        if step is AnswerRefusal.FORGED:
            return self.message(request, _, "m.bad_form", 403, link_home=True)
        if isinstance(step, AnswerRefusal):
            return self.redirect(f"{here}?notice={step.value}")
        if step.verdict is Verdict.NOT_YOURS:
            return self.message(request, _, "m.not_yours", 404, link_home=True)
        if step.verdict is Verdict.RECORDED:
            return self.redirect(here)
        return self.redirect(f"{here}?notice={step.verdict.value}")

    async def question_picture(self, request: web.Request) -> web.StreamResponse:
        """A question's picture, for its own participant only, once the attempt reached it."""
        attempt_id = id_number(request.match_info["attempt_id"])
        seq = id_number(request.match_info["seq"])
        picture = None
        async with self.uow() as uow:
            signed = await self._signed(request, uow)
            if signed is not None and attempt_id is not None and seq is not None:
                picture = await attempt_picture(uow, signed.participant, attempt_id, seq)
        if picture is None:
            raise web.HTTPNotFound()
        response = web.Response(body=picture.content, content_type=picture.media_type)
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    async def certificate(self, request: web.Request) -> web.StreamResponse:
        attempt_id = id_number(request.match_info["attempt_id"])
        async with self.uow() as uow:
            signed = await self._signed(request, uow)
            if signed is None:
                return self.redirect(f"{PATH}/")
            _ = self.gettext(request, signed.participant.locale)
            shown = await self._attempt(uow, signed, attempt_id)
            if shown is None or shown.result is None or not shown.result.certificate:
                return self.message(request, _, "m.no_certificate", 404, link_home=True)
            name = await uow.certificate_names.get(signed.participant.id)
            issued = await issue_certificate(
                uow, shown.attempt.id, now=self.clock(), zone=self.zone, issuer=self.issuer
            )
        text = certificate_text(
            issued, name or signed.participant.display_name or "", _, self.public_url
        )
        png = render_certificate(text)
        response = web.Response(body=png, content_type="image/png")
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Disposition"] = (
            f'attachment; filename="certificate-{issued.issued.serial}.png"'
        )
        return response


def certificate_text(
    certificate: Certificate, name: str, _: Gettext, public_url: str | None
) -> CertificateText:
    """The certificate's lines in the page's language (the chat's keys and layout)."""
    issued, band = certificate.issued, certificate.issued.band.value
    day = certificate.passed_on
    code = grouped(issued.code)
    return CertificateText(
        title=_.plain(f"certificate.title_{band}"),
        name_line=_.plain(
            "certificate.name_line" if certificate.for_student else "certificate.name_line_adult",
            name=name,
        ),
        body=_.plain(
            f"certificate.body_{band}",
            campaign=certificate.campaign.name,
            percent=score_percent(certificate.percent),
        ),
        issuer=certificate.issuer,
        date_line=_.plain("certificate.date", year=day.year, month=day.month, day=day.day),
        serial_line=_.plain("certificate.serial", serial=issued.serial),
        verify_line=_.plain("m.verify_url", url=verify_url(public_url, issued.code), code=code)
        if public_url
        else _.plain("m.verify_code", code=code),
    )


def missed_lines(shown: AttemptPage, _: Gettext) -> list[tuple[int, str, str, str, str]]:
    """(seq, stem, their answer, the right one, the explanation) of each question missed,
    as the chat's result lists them."""
    lines = []
    for question in shown.result.missed if shown.result else ():
        stored = question.question
        yours = answer_given(question, _.plain)
        right = options_shown(stored, question.order, stored.correct, _.plain)
        lines.append((question.seq, stored.stem, yours, right, stored.explanation or "—"))
    return lines


def id_number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _csrf_ok(form: Any, signed: Signed) -> bool:
    sent = form.get("csrf_token")
    return isinstance(sent, str) and secrets.compare_digest(sent, signed.csrf)


def add_participant_routes(app: web.Application, pages: ParticipantPages) -> None:
    app.router.add_get(f"{PATH}/", pages.home)
    app.router.add_get(f"{PATH}/join/{{code}}", pages.join_page)
    app.router.add_post(f"{PATH}/join/{{code}}", pages.join_post)
    app.router.add_get(f"{PATH}/recover", pages.recover_page)
    app.router.add_post(f"{PATH}/recover", pages.recover_post)
    app.router.add_post(f"{PATH}/campaigns/{{campaign_id}}/start", pages.start)
    app.router.add_get(f"{PATH}/attempts/{{attempt_id}}", pages.attempt)
    app.router.add_post(f"{PATH}/attempts/{{attempt_id}}", pages.answer_post)
    app.router.add_get(f"{PATH}/attempts/{{attempt_id}}/certificate.png", pages.certificate)
    app.router.add_get(
        f"{PATH}/attempts/{{attempt_id}}/questions/{{seq}}/picture", pages.question_picture
    )
    app.router.add_get(f"{PATH}/articles/{{article_id}}", pages.article)
    app.router.add_post(f"{PATH}/lectures/{{lecture_id}}/checkin", pages.check_in_post)
    app.router.add_static(f"{PATH}/static/", HERE / "static", append_version=False)

    async def bare(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{PATH}/")

    app.router.add_get(PATH, bare)
