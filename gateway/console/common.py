"""Shared pieces of the console: templates, the logged-in user, redirects with errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.api.deps import SESSION_COOKIE
from gateway.bulletins import service
from gateway.bulletins.errors import WorkflowError
from gateway.bulletins.schedule import local_text
from gateway.console import labels
from gateway.db.models import Bulletin, User
from gateway.phones import hides_numbers, mask_all

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["local"] = local_text


def _shown(value: Any, user: User) -> Any:
    """A phone number, or text or an audit detail that may hold one, as ``user`` may see it."""
    return mask_all(value) if hides_numbers(user.role) else value


templates.env.filters["shown"] = _shown
templates.env.globals.update(
    STATUS=service.STATUS_LABELS,
    ROLES=auth.ROLE_LABELS,
    PRIORITY={"normal": "Thường", "priority": "Ưu tiên", "emergency": "Khẩn cấp"},
    STATE=labels.DELIVERY_STATES,
    CHANNEL_LABELS=labels.CHANNELS,
    LEVELS=labels.LEVELS,
    SOURCES=labels.SOURCES,
)
templates.env.filters.update(
    channel=labels.channel,
    recurrence=labels.recurrence,
    level=labels.level,
    action=labels.action,
    entity=labels.entity,
    detail=labels.detail,
)


class NotLoggedIn(Exception):
    """Sends the browser to ``to``: the login page, or the account page while the first
    start's one-time password is unchanged."""

    def __init__(self, to: str = "/login") -> None:
        super().__init__(to)
        self.to = to


async def who(request: Request, session: AsyncSession) -> tuple[User, str]:
    token = request.cookies.get(SESSION_COOKIE)
    found = await auth.session_user(session, token) if token else None
    if found is None:
        raise NotLoggedIn
    if found[0].must_change_password and request.url.path != "/account":
        raise NotLoggedIn("/account")
    if found[0].role in APPROVERS:  # the menu's badge: what waits for this approver, on every page
        request.state.waiting_approval = await waiting_count(session)
    return found


APPROVERS = ("approver", "admin")


async def waiting_count(session: AsyncSession) -> int:
    """How many bulletins were submitted and wait for an approver."""
    count = select(func.count()).where(Bulletin.status == "submitted", Bulletin.source != "reply")
    return int((await session.execute(count)).scalar_one())


def page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context)


def back(url: str, error: str | None = None) -> RedirectResponse:
    joint = "&" if "?" in url else "?"
    return RedirectResponse(url + (f"{joint}error={quote(error)}" if error else ""), status_code=303)


def failed(url: str, exc: WorkflowError) -> RedirectResponse:
    """Back to ``url`` with the error as a sentence an officer reads (no field-name prefix)."""
    return back(url, labels.sentence(exc.message))


def safe_next(target: str) -> str:
    """A ``next=`` address kept through the login: a path on this site only."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def check_csrf(csrf: str, form_token: str) -> None:
    if not auth.same_token(form_token, csrf):
        raise WorkflowError("csrf_token", "phiên làm việc đã hết hạn, hãy tải lại trang", 403)
