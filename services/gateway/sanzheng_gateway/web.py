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
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sanzheng_gateway import (
    charts,
    errorpages,
    export,
    messages,
    queries,
    sessions,
    summaries,
    trend,
    urgency,
    worklist,
)
from sanzheng_gateway.errors import ApiError
from sanzheng_gateway.inputs import escaped, has_control, is_school_id, is_student_id
from sanzheng_gateway.labels import LABELS
from sanzheng_gateway.throttle import FailureThrottle
from sanzheng_gateway.tokens import Principal, authenticate
from sanzheng_shared.db.pool import connection

HERE = Path(__file__).parent
DASHBOARD_ROLES = ("counselor", "bureau", "admin")

# Query parameters of the class page and its export. Page numbers are digits of any
# length, clamped to the pages there are; anything else is a 422 page.
Cohort = Annotated[str, Query(max_length=4, pattern="^([0-9]{4})?$")]
ClassId = Annotated[str, Query(max_length=50)]
Missing = Annotated[str, Query(max_length=20)]
Eligible = Annotated[str, Query(max_length=5)]
Flag = Annotated[str, Query(max_length=30, pattern="^[A-Za-z0-9_]*$")]
Digits = Annotated[str, Query(max_length=30, pattern="^[0-9]*$")]


def _local(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(queries.LOCAL).strftime("%Y-%m-%d %H:%M")


def landing(who: Principal) -> str:
    """Where a login lands: a counselor with classes on the first class, sorted by urgency;
    everyone else on the search."""
    if who.role == "counselor" and who.classes and who.school_id:
        return f"/ui/schools/{quote(who.school_id)}?class_id={quote(who.classes[0])}"
    return "/ui/search"


def _number(text: str, default: int) -> int:
    """A page number or size as typed (digits only, checked by the route): any length."""
    return int(text) if text else default


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
                "days": lambda n: messages.days_left(n, language),
                "summary": lambda kind, data: summaries.summary(kind, data, language),
                "uncounted": lambda detail: messages.uncounted_skills(detail, language),
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

    def error_page(request: Request, status: int, code: str) -> Response:
        return page(request, "error.html", status=status, status_code=status, code=code)

    errorpages.install(app, error_page)

    async def who(request: Request) -> Principal | None:
        async with connection(pool_of()) as conn:
            found = await sessions.current(conn, request)
        return found if found and found.role in DASHBOARD_ROLES else None

    def to_login(request: Request) -> Response:
        """No session (expired, ended): back to the login. An htmx request is told to go
        there itself (HX-Redirect); otherwise htmx would nest the login page in the results."""
        if request.headers.get("hx-request"):
            return Response(status_code=200, headers={"HX-Redirect": "/"})
        return RedirectResponse("/", status_code=303)

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        principal = await who(request)
        if principal is None:
            return page(request, "login.html")
        return RedirectResponse(landing(principal), status_code=303)

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
            response = RedirectResponse(landing(found), status_code=303)
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
            return to_login(request)
        if has_control(q):
            raise ApiError(422, "the search text has control characters", "QUERY_INVALID")
        results, found = [], 0
        if q.strip():
            scope = principal.school_id if principal.role == "counselor" else None
            async with connection(pool_of()) as conn:
                results = await queries.search(conn, q.strip()[:50], scope)
                found = await queries.search_total(conn, q.strip()[:50], scope)
                await queries.log_listed(
                    conn,
                    principal,
                    [r["student_id"] for r in results],
                    "search",
                    request.state.request_id,
                )
        template = "search_results.html" if request.headers.get("hx-request") else "search.html"
        return page(request, template, q=q, results=results, found=found, me=principal)

    async def opened(
        conn: Any, request: Request, principal: Principal, student_id: str, action: str
    ) -> str | None:
        """The student's school when `principal` may read the record (logged either way)."""
        if not is_student_id(student_id):
            await queries.log_refused(
                conn, principal, escaped(student_id), action, request.state.request_id
            )
            raise ApiError(422, "invalid student id", "STUDENT_ID_INVALID")
        return await queries.open_record(
            conn, principal, student_id, action, request.state.request_id
        )

    @app.get("/ui/students/{student_id}", include_in_schema=False)
    async def student(request: Request, student_id: str) -> Response:
        principal = await who(request)
        if principal is None:
            return to_login(request)
        async with connection(pool_of()) as conn:
            school = await opened(conn, request, principal, student_id, "dashboard")
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
            account=queries.learning_account(items),
            **queries.status_from(items),
        )

    @app.get("/ui/students/{student_id}/learning-account", include_in_schema=False)
    async def transcript(request: Request, student_id: str) -> Response:
        """The learning account as a page to print (学习成绩单): it leaves the system on
        paper, so the access log says `export`."""
        principal = await who(request)
        if principal is None:
            return to_login(request)
        async with connection(pool_of()) as conn:
            school = await opened(conn, request, principal, student_id, "export")
            if school is None:
                return page(
                    request, "not_found.html", status=404, student_id=student_id, me=principal
                )
            record = await queries.student(conn, student_id)
            items = await queries.timeline(conn, student_id)
        return page(
            request,
            "transcript.html",
            student_id=student_id,
            record=queries.shown_enrollment(record) if record else None,
            account=queries.learning_account(items),
            event_href=f"/ui/students/{student_id}",
            me=principal,
        )

    def read_filters(
        cohort: str, class_id: str, missing: str, eligible: str, flag: str
    ) -> worklist.Filters:
        if has_control(class_id):
            raise ApiError(422, "a filter has control characters", "QUERY_INVALID")
        if flag and flag != "any" and flag not in messages.RULES:
            raise ApiError(422, "no such rule code", "QUERY_INVALID")
        return worklist.Filters(
            cohort=int(cohort) if cohort else None,
            class_id=class_id or None,
            missing=missing if missing in queries.REQUIREMENTS else None,
            eligible={"yes": True, "no": False}.get(eligible),
            flag=flag or None,
        )

    async def school_for(request: Request, school_id: str) -> Principal | Response:
        """The signed-in reader of this school's pages, or the answer to give instead."""
        principal = await who(request)
        if principal is None:
            return to_login(request)
        if not is_school_id(school_id):
            raise ApiError(422, "invalid school id", "QUERY_INVALID")
        if not principal.may_see(school_id):
            return page(request, "not_found.html", status=404, student_id=school_id, me=principal)
        return principal

    @app.get("/ui/schools", include_in_schema=False)
    async def schools(request: Request) -> Response:
        """The bureau's way into the class pages; a counselor goes to their own school."""
        principal = await who(request)
        if principal is None:
            return to_login(request)
        if principal.school_id:
            return RedirectResponse(f"/ui/schools/{quote(principal.school_id)}", 303)
        async with connection(pool_of()) as conn:
            listed = await queries.schools(conn)
        return page(request, "schools.html", schools=listed, me=principal)

    @app.get("/ui/schools/{school_id}", include_in_schema=False)
    async def cohort(
        request: Request,
        school_id: str,
        cohort: Cohort = "",
        class_id: ClassId = "",
        missing: Missing = "",
        eligible: Eligible = "",
        flag: Flag = "",
        page_no: Digits = "",
        page_size: Digits = "",
    ) -> Response:
        principal = await school_for(request, school_id)
        if isinstance(principal, Response):
            return principal
        chosen = read_filters(cohort, class_id, missing, eligible, flag)
        size = min(max(_number(page_size, 100), 1), 500)
        today = queries.today()
        async with connection(pool_of()) as conn:
            rows = await worklist.load(conn, school_id, chosen, today)
            pages = max(1, -(-len(rows) // size))
            # Past the end: the last page, not an empty table; any number of digits.
            number = min(max(_number(page_no, 1), 1), pages)
            shown = rows[(number - 1) * size : number * size]
            await queries.log_listed(
                conn,
                principal,
                [r.student_id for r in shown],
                "cohort_list",
                request.state.request_id,
            )
            classes = await queries.classes_of(conn, school_id)
            # The school page (no class chosen) shows the cohorts' eligible share over time.
            shares = {} if chosen.class_id else await trend.load(conn, school_id, today)
        counts = worklist.state_counts(rows, queries.REQUIREMENTS)
        filters = {
            "cohort": cohort,
            "class_id": class_id,
            "missing": missing,
            "eligible": eligible,
            "flag": flag,
        }
        query = urlencode({k: v for k, v in filters.items() if v})
        return page(
            request,
            "cohort.html",
            school_id=school_id,
            rows=shown,
            total=len(rows),
            page_no=number,
            pages=pages,
            counts=counts,
            bars=charts.stacked_bars(counts),
            history=charts.lines(shares),
            classes=classes,
            me=principal,
            filters=filters,
            query=query,
            pager_query=query + (f"&page_size={size}" if query else f"page_size={size}")
            if size != 100
            else query,
            requirements=queries.REQUIREMENTS,
            flag_codes=[c for c in messages.RULES if c.startswith("INT_")],
            states=urgency.STATES,
            chart=charts,
        )

    @app.get("/ui/schools/{school_id}/export", include_in_schema=False)
    async def cohort_export(
        request: Request,
        school_id: str,
        fmt: Annotated[str, Query(alias="format", pattern="^(csv|xlsx)$")] = "csv",
        cohort: Cohort = "",
        class_id: ClassId = "",
        missing: Missing = "",
        eligible: Eligible = "",
        flag: Flag = "",
    ) -> Response:
        """The class page's list with its filters, every page, in its order (most urgent
        first), as CSV or .xlsx: the API's columns, then what is urgent and the flags."""
        principal = await school_for(request, school_id)
        if isinstance(principal, Response):
            return principal
        chosen = read_filters(cohort, class_id, missing, eligible, flag)
        async with connection(pool_of()) as conn:
            rows = await worklist.load(conn, school_id, chosen, queries.today())
            await queries.log_listed(
                conn,
                principal,
                [r.student_id for r in rows],
                "export",
                request.state.request_id,
            )
        return export.response(
            [r.as_export() for r in rows], fmt, school_id, columns=worklist.EXPORT_COLUMNS
        )
