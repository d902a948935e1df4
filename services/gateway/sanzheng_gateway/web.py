"""The counselors' dashboard (SPEC §5.3): server-rendered Jinja2 pages, htmx vendored in
`static/` (no CDN, no build step). Chinese labels by default, `?lang=en` for English,
times in Asia/Shanghai. The same school scoping and access log as the API.

Logging in with a token starts a server-side session (sessions.py): the cookie never holds
the token. The login and logout forms carry a CSRF token and must come from this origin;
failed logins are throttled per client address like failed API authentication."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sanzheng_gateway import export, messages, queries, sessions
from sanzheng_gateway.errors import ApiError
from sanzheng_gateway.inputs import escaped, has_control, is_school_id, is_student_id
from sanzheng_gateway.labels import LABELS
from sanzheng_gateway.throttle import FailureThrottle
from sanzheng_gateway.tokens import Principal, authenticate
from sanzheng_shared.db.pool import connection

HERE = Path(__file__).parent
DASHBOARD_ROLES = ("counselor", "bureau", "admin")


def _local(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(queries.LOCAL).strftime("%Y-%m-%d %H:%M")


def mount_dashboard(app: FastAPI, pool_of: Callable[[], Any]) -> None:
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["local"] = _local
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    throttle: FailureThrottle = app.state.throttle

    def lang(request: Request) -> str:
        chosen = request.query_params.get("lang") or request.cookies.get("sz_lang") or "zh"
        return chosen if chosen in LABELS else "zh"

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        language = lang(request)
        csrf, new_csrf = sessions.csrf_token(request)
        response = templates.TemplateResponse(
            request,
            name,
            {
                "t": LABELS[language],
                "lang": language,
                "csrf": csrf,
                "w": lambda group, code: messages.word(group, code, language),
                "detail": lambda text: messages.detail(text, language),
                "waiting": lambda text: messages.waiting(text, language),
                # Switching language keeps the page's query (its filters, its search).
                "other_lang_url": "?"
                + urlencode(
                    [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
                    + [("lang", "en" if language == "zh" else "zh")]
                ),
                **context,
            },
            status_code=status,
        )
        if new_csrf:
            sessions.set_csrf_cookie(request, response, csrf)
        if request.query_params.get("lang") in LABELS:
            response.set_cookie("sz_lang", language, samesite="strict")
        return response

    async def who(request: Request) -> Principal | None:
        async with connection(pool_of()) as conn:
            found = await sessions.current(conn, request)
        return found if found and found.role in DASHBOARD_ROLES else None

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        if await who(request) is None:
            return page(request, "login.html")
        return RedirectResponse("/ui/search", status_code=303)

    @app.post("/ui/login", include_in_schema=False)
    async def login(
        request: Request,
        token: Annotated[str, Form(max_length=200)],
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        if not sessions.form_is_ours(request, csrf):
            return page(request, "login.html", status=403, error="form_expired")
        address = request.client.host if request.client else "unknown"
        if wait := throttle.retry_after(address):
            raise ApiError(429, "too many failed logins", headers={"Retry-After": str(wait)})
        async with connection(pool_of()) as conn:
            found = await authenticate(conn, token.strip())
            if found is None or found.role not in DASHBOARD_ROLES:
                throttle.failed(address)
                return page(request, "login.html", status=401, error="bad_token")
            response = RedirectResponse("/ui/search", status_code=303)
            await sessions.start(conn, found, request, response)
        return response

    @app.post("/ui/logout", include_in_schema=False)
    async def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
        if not sessions.form_is_ours(request, csrf):
            return page(request, "login.html", status=403, error="form_expired")
        response = RedirectResponse("/", status_code=303)
        async with connection(pool_of()) as conn:
            await sessions.end(conn, request, response)
        return response

    @app.get("/ui/search", include_in_schema=False)
    async def search(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> Response:
        principal = await who(request)
        if principal is None:
            return RedirectResponse("/", status_code=303)
        if has_control(q):
            raise ApiError(422, "the search text has control characters", "QUERY_INVALID")
        results = []
        if q.strip():
            async with connection(pool_of()) as conn:
                results = await queries.search(
                    conn,
                    q.strip()[:50],
                    principal.school_id if principal.role == "counselor" else None,
                )
                await queries.log_listed(
                    conn,
                    principal,
                    [r["student_id"] for r in results],
                    "search",
                    request.state.request_id,
                )
        template = "search_results.html" if request.headers.get("hx-request") else "search.html"
        return page(request, template, q=q, results=results, me=principal)

    @app.get("/ui/students/{student_id}", include_in_schema=False)
    async def student(request: Request, student_id: str) -> Response:
        principal = await who(request)
        if principal is None:
            return RedirectResponse("/", status_code=303)
        async with connection(pool_of()) as conn:
            if not is_student_id(student_id):
                await queries.log_refused(
                    conn, principal, escaped(student_id), "dashboard", request.state.request_id
                )
                raise ApiError(422, "invalid student id", "STUDENT_ID_INVALID")
            school = await queries.open_record(
                conn, principal, student_id, "dashboard", request.state.request_id
            )
            if school is None:
                return page(
                    request, "not_found.html", status=404, student_id=student_id, me=principal
                )
            record = await queries.student(conn, student_id)
            items = await queries.timeline(conn, student_id)
            decision = await queries.graduation(conn, student_id)
            held = await queries.held(conn, student_id)
            warnings = await queries.warnings(conn, student_id)
        return page(
            request,
            "student.html",
            student_id=student_id,
            record=queries.shown_enrollment(record) if record else None,
            school=school,
            decision=decision,
            timeline=items,
            held=held,
            warnings=warnings,
            me=principal,
            **queries.status_from(items),
        )

    def list_filters(cohort: str, class_id: str, missing: str, eligible: str) -> dict[str, Any]:
        return {
            "cohort": int(cohort) if cohort else None,
            "class_id": class_id or None,
            "missing": missing if missing in queries.REQUIREMENTS else None,
            "eligible": {"yes": True, "no": False}.get(eligible),
        }

    @app.get("/ui/schools/{school_id}", include_in_schema=False)
    async def cohort(
        request: Request,
        school_id: str,
        # A four-digit year or nothing: `²` is a digit to str.isdigit() but not to int().
        cohort: Annotated[str, Query(pattern="^([0-9]{4})?$")] = "",
        class_id: Annotated[str, Query(max_length=50)] = "",
        missing: Annotated[str, Query(max_length=20)] = "",
        eligible: Annotated[str, Query(max_length=5)] = "",
        page_no: Annotated[int, Query(ge=1, le=10000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        principal = await who(request)
        if principal is None:
            return RedirectResponse("/", status_code=303)
        if has_control(class_id) or not is_school_id(school_id):
            raise ApiError(422, "a filter has control characters", "QUERY_INVALID")
        if not principal.may_see(school_id):
            return page(request, "not_found.html", status=404, student_id=school_id, me=principal)
        async with connection(pool_of()) as conn:
            chosen = list_filters(cohort, class_id, missing, eligible)
            result = await queries.cohort(
                conn, school_id, **chosen, page=page_no, page_size=page_size
            )
            pages = max(1, -(-result["total"] // page_size))
            if page_no > pages:  # past the end: the last page, not an empty table
                result = await queries.cohort(
                    conn, school_id, **chosen, page=pages, page_size=page_size
                )
            await queries.log_listed(
                conn,
                principal,
                [s["student_id"] for s in result["students"]],
                "cohort_list",
                request.state.request_id,
            )
        filters = {"cohort": cohort, "class_id": class_id, "missing": missing, "eligible": eligible}
        return page(
            request,
            "cohort.html",
            result=result,
            me=principal,
            filters=filters,
            query=urlencode({k: v for k, v in filters.items() if v}),
            pages=pages,
            pager_query=urlencode(
                {k: v for k, v in filters.items() if v}
                | ({"page_size": page_size} if page_size != 100 else {})
            ),
            requirements=queries.REQUIREMENTS,
        )

    @app.get("/ui/schools/{school_id}/export", include_in_schema=False)
    async def cohort_export(
        request: Request,
        school_id: str,
        fmt: Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$")] = "csv",
        cohort: Annotated[str, Query(pattern="^([0-9]{4})?$")] = "",
        class_id: Annotated[str, Query(max_length=50)] = "",
        missing: Annotated[str, Query(max_length=20)] = "",
        eligible: Annotated[str, Query(max_length=5)] = "",
    ) -> Response:
        """The class/cohort list with its filters, every page, as CSV or .xlsx."""
        principal = await who(request)
        if principal is None:
            return RedirectResponse("/", status_code=303)
        if has_control(class_id) or not is_school_id(school_id):
            raise ApiError(422, "a filter has control characters", "QUERY_INVALID")
        if not principal.may_see(school_id):
            return page(request, "not_found.html", status=404, student_id=school_id, me=principal)
        async with connection(pool_of()) as conn:
            listed = await export.all_students(
                conn, school_id, **list_filters(cohort, class_id, missing, eligible)
            )
            await queries.log_listed(
                conn,
                principal,
                [s["student_id"] for s in listed],
                "export",
                request.state.request_id,
            )
        return export.response(listed, fmt, school_id)
