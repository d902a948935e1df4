"""The counselors' dashboard (SPEC §5.3): server-rendered Jinja2 pages, htmx vendored in
`static/` (no CDN, no build step). Chinese labels by default, `?lang=en` for English,
times in Asia/Shanghai. The same token, school scoping and access log as the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sanzheng_gateway import queries
from sanzheng_gateway.labels import LABELS
from sanzheng_gateway.tokens import Principal, authenticate
from sanzheng_shared.db.pool import connection

HERE = Path(__file__).parent
COOKIE = "sz_token"


def _local(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(queries.LOCAL).strftime("%Y-%m-%d %H:%M")


def mount_dashboard(app: FastAPI, pool_of: Callable[[], Any]) -> None:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["local"] = _local
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def lang(request: Request) -> str:
        chosen = request.query_params.get("lang") or request.cookies.get("sz_lang") or "zh"
        return chosen if chosen in LABELS else "zh"

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        language = lang(request)
        response = templates.TemplateResponse(
            request, name, {"t": LABELS[language], "lang": language, **context}, status_code=status
        )
        if request.query_params.get("lang") in LABELS:
            response.set_cookie("sz_lang", language, samesite="strict")
        return response

    async def who(request: Request) -> Principal | None:
        token = request.cookies.get(COOKIE, "")
        if not token:
            return None
        async with connection(pool_of()) as conn:
            found = await authenticate(conn, token)
        return found if found and found.role in ("counselor", "bureau", "admin") else None

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        if await who(request) is None:
            return page(request, "login.html")
        return RedirectResponse("/ui/search", status_code=303)

    @app.post("/ui/login", include_in_schema=False)
    async def login(request: Request, token: str = Form(max_length=200)) -> Response:
        async with connection(pool_of()) as conn:
            found = await authenticate(conn, token.strip())
        if found is None or found.role not in ("counselor", "bureau", "admin"):
            return page(request, "login.html", status=401, error=True)
        response = RedirectResponse("/ui/search", status_code=303)
        response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
        return response

    @app.get("/ui/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/ui/search", include_in_schema=False)
    async def search(request: Request, q: str = "") -> Response:
        principal = await who(request)
        if principal is None:
            return RedirectResponse("/", status_code=303)
        results = []
        if q.strip():
            async with connection(pool_of()) as conn:
                results = await queries.search(
                    conn,
                    q.strip()[:50],
                    principal.school_id if principal.role == "counselor" else None,
                )
        template = "search_results.html" if request.headers.get("hx-request") else "search.html"
        return page(request, template, q=q, results=results, me=principal)

    @app.get("/ui/students/{student_id}", include_in_schema=False)
    async def student(request: Request, student_id: str) -> Response:
        principal = await who(request)
        if principal is None:
            return RedirectResponse("/", status_code=303)
        async with connection(pool_of()) as conn:
            school = await queries.open_record(
                conn, principal, student_id, "dashboard", uuid.uuid4().hex
            )
            if school is None:
                return page(
                    request, "not_found.html", status=404, student_id=student_id, me=principal
                )
            record = await queries.student(conn, student_id)
            items = await queries.timeline(conn, student_id)
            decision = await queries.graduation(conn, student_id)
            held = await queries.held(conn, student_id)
        return page(
            request,
            "student.html",
            student_id=student_id,
            record=record,
            school=school,
            decision=decision,
            timeline=items,
            held=held,
            me=principal,
            **queries.status_from(items),
        )

    @app.get("/ui/schools/{school_id}", include_in_schema=False)
    async def cohort(
        request: Request,
        school_id: str,
        cohort: str = "",
        class_id: str = "",
        missing: str = "",
        eligible: str = "",
        page_no: int = 1,
    ) -> Response:
        principal = await who(request)
        if principal is None:
            return RedirectResponse("/", status_code=303)
        if not principal.may_see(school_id):
            return page(request, "not_found.html", status=404, student_id=school_id, me=principal)
        async with connection(pool_of()) as conn:
            result = await queries.cohort(
                conn,
                school_id,
                cohort=int(cohort) if cohort.isdigit() else None,
                class_id=class_id or None,
                missing=missing if missing in queries.REQUIREMENTS else None,
                eligible={"yes": True, "no": False}.get(eligible),
                page=max(1, page_no),
                page_size=100,
            )
        return page(
            request,
            "cohort.html",
            result=result,
            me=principal,
            filters={
                "cohort": cohort,
                "class_id": class_id,
                "missing": missing,
                "eligible": eligible,
            },
            requirements=queries.REQUIREMENTS,
        )
