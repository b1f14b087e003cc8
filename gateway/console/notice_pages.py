"""The templates page ``/mau`` (Mẫu bản tin): every role reads the usual notices the
composer offers; administrators edit them, add others and switch them off."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api.deps import db
from gateway.bulletins.errors import WorkflowError
from gateway.console import notice_templates
from gateway.console.common import back, check_csrf, failed, page, who

router = APIRouter(include_in_schema=False)


@router.get("/mau", response_class=HTMLResponse)
async def templates_page(
    request: Request, error: str = "", saved: str = "", session: AsyncSession = Depends(db)
) -> Response:
    user, csrf = await who(request, session)
    return page(
        request,
        "notice_templates.html",
        user=user,
        csrf=csrf,
        rows=await notice_templates.every(session),
        error=error,
        saved=saved,
        can_edit=user.role == "admin",
    )


async def _save(request: Request, session: AsyncSession, template_id: int | None) -> Response:
    user, csrf = await who(request, session)
    form = await request.form()

    def text(name: str) -> str:
        value = form.get(name, "")
        return value if isinstance(value, str) else ""

    data = notice_templates.NoticeInput(
        slug=text("slug").strip().lower(),
        label=text("label"),
        title=text("title"),
        body=text("body"),
        sms_text=text("sms_text"),
        priority=text("priority") or "normal",
        enabled=text("enabled") == "true",
    )
    try:
        check_csrf(csrf, text("csrf_token"))
        saved = await notice_templates.save(session, user, template_id, data)
    except WorkflowError as exc:
        return failed("/mau", exc)
    return back(f"/mau?saved={saved.id}#mau-{saved.id}")


@router.post("/mau")
async def create_template(request: Request, session: AsyncSession = Depends(db)) -> Response:
    return await _save(request, session, None)


@router.post("/mau/{template_id}")
async def edit_template(template_id: int, request: Request, session: AsyncSession = Depends(db)) -> Response:
    return await _save(request, session, template_id)
