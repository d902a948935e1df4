"""The HTTP API of SPEC §5.2. Every request is scoped to the token's school unless the
role is bureau/admin; the school is checked on the record read, and across schools the
answer is 404, never the record. Every read of personal data is logged, denials too:
student records, cohort lists (a row per student listed) and the access log itself.

Only the `Authorization: Bearer` header authenticates here: the dashboard's cookie is a
session of the dashboard, and a browser would send it along with a forged request."""

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from sanzheng_certificates.decisions import policy_for
from sanzheng_gateway import asof, errors, export, queries, stats, waivers, whatif
from sanzheng_gateway.bounded import BodyLimit
from sanzheng_gateway.docs_page import mount_docs
from sanzheng_gateway.errors import ApiError, Problem
from sanzheng_gateway.headers import SecurityHeaders
from sanzheng_gateway.ingest import Ingest, IngestError
from sanzheng_gateway.inputs import escaped, is_school_id, is_student_id
from sanzheng_gateway.throttle import FailureThrottle
from sanzheng_gateway.tokens import Principal, authenticate
from sanzheng_shared.db.pool import connection
from sanzheng_shared.events.envelope import CloudEvent
from sanzheng_shared.policy import PolicyBook

MAX_BODY_BYTES = 1024 * 1024  # POST /v1/events
MAX_OTHER_BODY_BYTES = 64 * 1024  # everything else (the login form, what-if)
READERS = ("counselor", "principal", "bureau", "admin")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# `as_of` is a day of a school's life: far-off dates are refused, not computed with.
FIRST_DAY, LAST_DAY = date(1990, 1, 1), date(2199, 12, 31)


class Requirement(BaseModel):
    code: str
    met: bool
    detail: str
    state: Literal["met", "on_track", "at_risk", "overdue"] | None = None
    """on the decision date; null in decisions made before states existed"""
    due_on: str | None = None


class Decision(BaseModel):
    eligible: bool
    requirements: list[Requirement]
    policy_version: str
    decided_at: str


class AsOfDecision(Decision):
    """Without `as_of`, the decision announced last (without the three fields below). With
    it, the decision from what had occurred by the end of that day, beside the one announced
    by then (the audit trail)."""

    as_of: str | None = None
    announced: Decision | None = None
    """the decision announced by the end of `as_of` (Asia/Shanghai), if any"""
    differs: bool | None = None
    """the two disagree on eligibility or on a requirement being met"""


class Change(BaseModel):
    code: str
    met_before: bool | None
    met_after: bool | None
    detail_before: str | None
    detail_after: str | None


class WhatIf(Decision):
    eligible_before: bool | None
    changes: list[Change]


class WhatIfBody(BaseModel):
    events: list[dict[str, Any]] = Field(default_factory=list, max_length=whatif.MAX_EVENTS)
    policy_version: str | None = Field(default=None, min_length=1, max_length=100)


class Accepted(BaseModel):
    accepted: list[str]


class HeldSubmission(BaseModel):
    source: str
    id: str
    type: str
    waiting_for: str
    held_by: str
    held_since: datetime | None = None
    stale: bool = False
    """held longer than the policy's limit (`pending.expire_after_days`, 30 days)"""


class StudentStatus(BaseModel):
    student_id: str
    school_id: str | None
    enrollment: dict[str, Any] | None
    internships: list[dict[str, Any]]
    labor_education: list[dict[str, Any]]
    certificates: list[dict[str, Any]]
    pending: list[HeldSubmission]
    waivers: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    """requirements at risk or overdue now (`student.at_risk` not cleared since)"""
    graduation: Decision | None


class LearningAccount(BaseModel):
    """The personal learning account (个人学习账号): every line names its `event_id`."""

    student_id: str
    total_credits: float
    credits_by_category: dict[str, float]
    credits_by_source: dict[str, float]
    class_hours: float
    practice_hours: float
    practice_share: float | None
    courses: list[dict[str, Any]]
    recognitions: list[dict[str, Any]]


class TimelineItem(BaseModel):
    seq: int
    id: str
    type: str
    time: str | None
    data: dict[str, Any]


class CohortStudent(BaseModel):
    student_id: str
    name: str
    class_id: str
    cohort: int
    status: str
    eligible: bool | None
    missing: list[str]
    states: list[str] = []
    """the states of the unmet requirements (overdue, at_risk, on_track), most urgent first"""
    next_due: str | None = None
    """the nearest due date of an unmet requirement"""


class WaiverAccepted(BaseModel):
    waiver_id: str
    event_id: str


class Approval(BaseModel):
    name: str
    role: str


class Waiver(BaseModel):
    waiver_id: str
    student_id: str
    requirement: str
    reason_category: str | None
    reason: str
    approver: Approval
    granted_on: str
    expires_on: str
    evidence: str | None
    status: Literal["active", "expired", "revoked"]
    revoked_on: str | None
    revoked_by: Approval | None


# SPEC §5.2: lists answer ?format=csv|xlsx too (each an export in the access log).
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
        }
    }
}
WAIVER_COLUMNS = tuple(Waiver.model_fields)
TIMELINE_COLUMNS = ("seq", "id", "type", "time", "data")


class WarningEvent(BaseModel):
    """`student.at_risk` or `student.risk_cleared`, as announced on graduation.events."""

    seq: int
    """its place in the school's feed: ask `?after=` the last one seen"""
    id: str
    type: Literal["student.at_risk", "student.risk_cleared"]
    student_id: str
    time: datetime | None
    requirement: str
    state: Literal["met", "on_track", "at_risk", "overdue"]
    due_on: str | None
    detail: str


WARNING_COLUMNS = tuple(WarningEvent.model_fields)


class WarningFeed(BaseModel):
    events: list[WarningEvent]
    next_after: int
    """`?after=` for the next call: the last `seq` returned, or `after` when none"""


class Progress(BaseModel):
    code: str
    met: int
    of: int


def _student_link(path: str, what: str) -> dict[str, Any]:
    return {
        "operationRef": "#/paths/" + path.replace("/", "~1") + "/get",
        "parameters": {"student_id": "$response.body#/students/0/student_id"},
        "description": f"{what} of the first student on the page",
    }


# OpenAPI links: a client (and schemathesis' stateful run) can follow a list to its students.
STUDENT_LINKS = {
    "StudentStatus": _student_link("/v1/students/{student_id}", "The status"),
    "StudentGraduation": _student_link("/v1/students/{student_id}/graduation", "The decision"),
    "StudentTimeline": _student_link("/v1/students/{student_id}/timeline", "The timeline"),
}


class CohortPage(BaseModel):
    school_id: str
    total: int
    page: int
    page_size: int
    progress: list[Progress]
    students: list[CohortStudent]


class Access(BaseModel):
    at: str
    token_id: str | None
    role: str | None
    school_id: str | None
    action: str
    outcome: str
    request_id: str


# The body is read raw (so that a bad event is reported, not refused by FastAPI): document it.
EVENTS_BODY = {
    "required": True,
    "content": {
        "application/cloudevents+json": {"schema": CloudEvent.model_json_schema()},
        "application/cloudevents-batch+json": {
            "schema": {"type": "array", "items": CloudEvent.model_json_schema()}
        },
        "application/json": {
            "schema": {
                "type": "object",
                "description": "binary mode: the event's `data`, its attributes in `ce-*`"
                " headers (`ce-specversion`, `ce-id`, `ce-source`, `ce-type`, `ce-subject`,"
                " `ce-time`, `ce-schoolid`, `ce-dataversion`)",
            }
        },
    },
}

NOT_FOUND = {404: {"model": Problem, "description": "no such record for this token"}}
AUTH = {
    401: {"model": Problem, "description": "missing, unknown, expired or revoked token"},
    403: {"model": Problem, "description": "the role may not do this"},
    422: {"model": Problem, "description": "a parameter is invalid (`reasons` say which)"},
    429: {"model": Problem, "description": "too many failed authentications from here"},
}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_api(
    pool_of: Callable[[], Any],
    ingest_of: Callable[[], Ingest | None],
    ready: Callable[[], Awaitable[dict[str, bool]]],
    lifespan: Callable[[FastAPI], Any] | None = None,
    *,
    docs: bool = True,
    throttle: FailureThrottle | None = None,
    policies: PolicyBook | None = None,
) -> FastAPI:
    app = FastAPI(
        title="sanzheng gateway",
        version="1",
        description="Three-certificates graduation tracking: student status, decisions, "
        "cohort lists, and CloudEvents ingest for school systems.",
        lifespan=lifespan,
        # FastAPI's own /docs and /redoc load their scripts from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.throttle = throttle = throttle or FailureThrottle()
    # The certificates service's policy files, for what-if decisions.
    book = policies or PolicyBook.load()
    errors.install(app)
    # Refused from Content-Length, or while streaming, before the body is read whole.
    app.add_middleware(
        BodyLimit,
        limit_for=lambda path: MAX_BODY_BYTES if path == "/v1/events" else MAX_OTHER_BODY_BYTES,
    )
    app.add_middleware(SecurityHeaders)  # added last: outermost, so even a 413 has them
    # A server span per request (joined to the caller's `traceparent` header, if any).
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics,static")
    if docs:
        mount_docs(app)

    async def principal(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Principal:
        address = client_address(request)
        if wait := throttle.retry_after(address):
            raise ApiError(
                429, "too many failed authentications", headers={"Retry-After": str(wait)}
            )
        token = ""
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        if not token:
            # Not logged: nobody to name, and an anonymous flood must not fill the log (a
            # token that fails is logged below, and counts toward the throttle).
            raise ApiError(
                401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        async with connection(pool_of()) as conn:
            found = await authenticate(conn, token)
        if found is None:
            throttle.failed(address)
            await log_denied(request, None, "unauthenticated")
            raise ApiError(
                401,
                "unknown, expired or revoked token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return found

    async def log_denied(request: Request, who: Principal | None, outcome: str) -> None:
        """SPEC §8: the access log keeps denials too. A request about a student refused
        before its record was opened (a token that failed, or a role that may not read it)."""
        student_id = request.path_params.get("student_id")
        if student_id is None:
            return
        shown = student_id if is_student_id(student_id) else escaped(student_id)
        async with connection(pool_of()) as conn:
            await queries.log_access(
                conn,
                token_id=who.token_id if who else None,
                role=who.role if who else None,
                school_id=who.school_id if who else None,
                student_id=shown,
                action=_action_of(request),
                outcome=outcome,
                request_id=request.state.request_id,
            )

    def role(*allowed: str) -> Callable[..., Awaitable[Principal]]:
        async def check(
            request: Request, who: Annotated[Principal, Depends(principal)]
        ) -> Principal:
            if who.role not in allowed:
                await log_denied(request, who, "denied_role")
                raise ApiError(403, f"the {who.role} role may not do this")
            return who

        return check

    Reader = Annotated[Principal, Depends(role(*READERS))]

    def visible_school(who: Principal, school_id: str) -> None:
        """A school id the caller may read about; another school is one that does not exist."""
        if not is_school_id(school_id):
            raise ApiError(422, "invalid school id", "SCHOOL_ID_INVALID")
        if not who.may_see(school_id):
            raise ApiError(404, f"no school {school_id}")

    async def checked_id(
        conn: Any, request: Request, who: Principal, student_id: str, action: str
    ) -> None:
        """Refuse an id no student can have before it reaches a query (a NUL byte would
        fail the query and its access-log row): logged in escaped form, then 422."""
        if is_student_id(student_id):
            return
        await queries.log_refused(conn, who, escaped(student_id), action, request.state.request_id)
        raise ApiError(
            422,
            "invalid student id",
            "STUDENT_ID_INVALID",
            [
                {
                    "code": "STUDENT_ID_INVALID",
                    "field": "student_id",
                    "message": "1 to 100 characters, no control characters",
                }
            ],
        )

    async def visible_student(
        request: Request, who: Principal, student_id: str, action: str
    ) -> None:
        """404 unless the record exists and belongs to the token's school; logged."""
        async with connection(pool_of()) as conn:
            await checked_id(conn, request, who, student_id, action)
            school = await queries.open_record(
                conn, who, student_id, action, request.state.request_id
            )
        if school is None:
            raise ApiError(404, f"no student {student_id}")

    @app.post(
        "/v1/events",
        status_code=202,
        response_model=Accepted,
        responses={
            400: {"model": Problem},
            413: {"model": Problem},
            415: {"model": Problem},
            422: {"model": Problem},
            503: {"model": Problem},
            **AUTH,
        },
        summary="Publish CloudEvents (structured, batch or binary) for the token's school",
        openapi_extra={"requestBody": EVENTS_BODY},
    )
    async def post_events(
        request: Request, who: Annotated[Principal, Depends(role("sis"))]
    ) -> Accepted:
        ingest = ingest_of()
        if ingest is None:
            raise ApiError(503, "not ready")
        body = await request.body()  # bounded by BodyLimit while it streams in
        try:
            ids = await ingest.submit(
                body,
                request.headers.get("content-type", ""),
                who.school_id,
                request.headers.items(),
            )
        except IngestError as exc:
            raise ApiError(exc.status, exc.detail, reasons=exc.reasons) from None
        return Accepted(accepted=ids)

    @app.get(
        "/v1/students/{student_id}",
        response_model=StudentStatus,
        responses={**NOT_FOUND, **AUTH},
        summary="A student's status",
    )
    async def get_student(request: Request, student_id: str, who: Reader) -> StudentStatus:
        await visible_student(request, who, student_id, "status")
        async with connection(pool_of()) as conn:
            enrollment = await queries.student(conn, student_id)
            items = await queries.timeline(conn, student_id)
            decision = await queries.graduation(conn, student_id)
            school = await queries.school_of(conn, student_id)
            held = await queries.held(conn, student_id)
            waiver_rows = await waivers.of_school(conn, school, student_id) if school else []
            warnings = await queries.warnings(conn, student_id)
        if enrollment:
            enrollment = queries.shown_enrollment(enrollment)
        folded = queries.status_from(items)
        return StudentStatus(
            student_id=student_id,
            school_id=school,
            enrollment=enrollment,
            graduation=Decision(**decision) if decision else None,
            pending=[HeldSubmission(**h) for h in held],
            waivers=waivers.listed(waiver_rows, queries.today()),
            warnings=warnings,
            **folded,
        )

    @app.get(
        "/v1/students/{student_id}/graduation",
        response_model=AsOfDecision,
        # Without `as_of`, the object `graduation.eligibility_changed` carries, no more (SPEC
        # §3.3: "answers the same object"); `as_of`, `announced`, `differs` only when asked.
        response_model_exclude_unset=True,
        responses={**NOT_FOUND, **AUTH},
        summary="The graduation decision, now or as of a day",
        description="With `as_of`, the decision from the facts that had occurred by the end"
        " of that day (their own dates: issued_on, end_on, period_end, enrolled_on,"
        " granted_on …) under the policies in force then, with `announced` (the decision"
        " announced by then) and `differs`.",
    )
    async def get_graduation(
        request: Request,
        student_id: str,
        who: Reader,
        as_of: Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)] = None,
    ) -> AsOfDecision:
        await visible_student(request, who, student_id, "graduation")
        row: dict[str, Any] | None = None
        rows: list[dict[str, Any]] = []
        async with connection(pool_of()) as conn:
            decision = await queries.graduation(conn, student_id, as_of)
            if as_of is not None:
                row = await queries.student(conn, student_id)
                rows = await queries.accepted_events(conn, student_id)
        occurred_any = as_of is not None and bool(asof.occurred_by(rows, as_of))
        if decision is None and not occurred_any:
            raise ApiError(
                404, f"no decision for {student_id}" + (f" as of {as_of}" if as_of else "")
            )
        if as_of is not None and row is not None:
            student = whatif.Student(student_id, row["school_id"], row["cohort"], row["birth_date"])
            occurred = asof.decision(book, student, rows, as_of)
            return AsOfDecision(
                **occurred,
                as_of=as_of.isoformat(),
                announced=Decision(**decision) if decision else None,
                differs=asof.differs(occurred, decision),
            )
        if decision is None:  # no enrollment to fold from, and nothing announced
            raise ApiError(404, f"no decision for {student_id} as of {as_of}")
        if as_of is not None:  # without an enrollment only the announced decision is known
            return AsOfDecision(
                **decision, as_of=as_of.isoformat(), announced=Decision(**decision), differs=None
            )
        return AsOfDecision(**decision)

    @app.post(
        "/v1/students/{student_id}/graduation/what-if",
        response_model=WhatIf,
        responses={
            400: {"model": Problem, "description": "the body is not JSON"},
            413: {"model": Problem, "description": "the body is over 64 KiB"},
            **NOT_FOUND,
            **AUTH,
        },
        summary="The decision that would result from hypothetical events or another policy "
        "version, changing nothing",
    )
    async def post_what_if(
        request: Request, student_id: str, body: WhatIfBody, who: Reader
    ) -> WhatIf:
        await visible_student(request, who, student_id, "what_if")
        async with connection(pool_of()) as conn:
            row = await queries.student(conn, student_id)
            timeline = await queries.accepted_events(conn, student_id)
            today = await queries.graduation(conn, student_id)
        if row is None:
            raise ApiError(404, f"no enrollment for {student_id}")
        student = whatif.Student(student_id, row["school_id"], row["cohort"], row["birth_date"])
        try:
            extra = whatif.hypothetical(body.events, student)
            decision = whatif.what_if(book, student, timeline, extra, body.policy_version)
        except whatif.WhatIfError as exc:
            raise ApiError(422, exc.detail, exc.code, exc.reasons) from None
        return WhatIf(
            **decision,
            decided_at=datetime.now(UTC).isoformat(),
            eligible_before=today["eligible"] if today else None,
            changes=[Change(**c) for c in whatif.changes(today, decision)],
        )

    Approver = Annotated[Principal, Depends(role(*waivers.APPROVERS))]

    async def approving(
        request: Request, who: Principal, student_id: str, action: str
    ) -> tuple[dict[str, Any], dict[str, Any], Any]:
        """The student (404 across schools), the approver from the token, the policy."""
        await visible_student(request, who, student_id, action)
        async with connection(pool_of()) as conn:
            row = await queries.student(conn, student_id)
            holder = await waivers.holder(conn, who.token_id)
        if row is None:
            raise ApiError(404, f"no enrollment for {student_id}")
        # The certificates service decides with the policy of the expected graduation,
        # which a suspension may push back; it checks the waiver again under that one.
        policy = policy_for(book, {**row, "program_years": 3}, None)
        return row, waivers.approver(who, holder), policy

    @app.post(
        "/v1/students/{student_id}/waivers",
        status_code=202,
        response_model=WaiverAccepted,
        responses={
            400: {"model": Problem, "description": "the body is not JSON"},
            413: {"model": Problem, "description": "the body is over 64 KiB"},
            **NOT_FOUND,
            **AUTH,
            503: {"model": Problem},
        },
        summary="Waive a requirement for a student (a principal or the bureau, as the policy"
        " allows); the approver is the token's holder",
    )
    async def post_waiver(
        request: Request, student_id: str, body: waivers.WaiverBody, who: Approver
    ) -> WaiverAccepted:
        ingest = ingest_of()
        if ingest is None:
            raise ApiError(503, "not ready")
        row, by, policy = await approving(request, who, student_id, "waiver")
        try:
            waivers.check(body, who.role, policy, queries.today())
        except waivers.WaiverRefused as exc:
            raise ApiError(422, exc.detail, exc.reasons[0]["code"], exc.reasons) from None
        event = waivers.waived(body, student_id, row["school_id"], by, queries.today())
        await ingest.publish(event)
        return WaiverAccepted(waiver_id=event.id, event_id=event.id)

    @app.delete(
        "/v1/students/{student_id}/waivers/{waiver_id}",
        status_code=202,
        response_model=WaiverAccepted,
        responses={**NOT_FOUND, **AUTH, 503: {"model": Problem}},
        summary="Revoke a waiver (a role the policy lets waive its requirement)",
    )
    async def delete_waiver(
        request: Request,
        student_id: str,
        waiver_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,100}$")],
        who: Approver,
        reason: Annotated[str | None, Query(max_length=500)] = None,
    ) -> WaiverAccepted:
        ingest = ingest_of()
        if ingest is None:
            raise ApiError(503, "not ready")
        row, by, policy = await approving(request, who, student_id, "waiver_revoke")
        async with connection(pool_of()) as conn:
            rows = await waivers.of_school(conn, row["school_id"], student_id)
        found = next(
            (w for w in waivers.listed(rows, queries.today()) if w["waiver_id"] == waiver_id),
            None,
        )
        if found is None:
            raise ApiError(404, f"no waiver {waiver_id} for {student_id}")
        rule = policy.waivers.get(found["requirement"])
        if rule is None or who.role not in rule.roles:
            reason_ = {
                "code": "WAIVER_NOT_ALLOWED",
                "field": "role",
                "message": f"a {who.role} may not revoke a {found['requirement']} waiver",
            }
            raise ApiError(422, "the policy does not allow this", "WAIVER_NOT_ALLOWED", [reason_])
        event = waivers.revoked(
            waiver_id, reason, student_id, row["school_id"], by, queries.today()
        )
        await ingest.publish(event)
        return WaiverAccepted(waiver_id=waiver_id, event_id=event.id)

    @app.get(
        "/v1/schools/{school_id}/waivers",
        response_model=list[Waiver],
        responses={**FILES, **NOT_FOUND, **AUTH},
        summary="A school's waivers: active, expired and revoked, with their approvers",
    )
    async def get_school_waivers(
        request: Request,
        school_id: str,
        who: Reader,
        status: Literal["active", "expired", "revoked"] | None = None,
        fmt: Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")] = "json",
    ) -> Any:
        visible_school(who, school_id)
        async with connection(pool_of()) as conn:
            found = waivers.listed(await waivers.of_school(conn, school_id), queries.today())
            found = [w for w in found if status is None or w["status"] == status]
            await queries.log_listed(
                conn,
                who,
                sorted({w["student_id"] for w in found}),
                "waiver_list" if fmt == "json" else "export",
                request.state.request_id,
            )
        if fmt in export.FORMATS:
            return export.response(found, fmt, school_id, WAIVER_COLUMNS, "waivers")
        return [Waiver(**w) for w in found]

    @app.get(
        "/v1/schools/{school_id}/warnings",
        response_model=WarningFeed,
        responses={**FILES, **NOT_FOUND, **AUTH},
        summary="The school's early warnings as a feed: student.at_risk and"
        " student.risk_cleared in order, from `after`",
        description="A school's system follows it with its own `sis` token (or any reader of"
        " the school): call with `after` = the `next_after` of the previous answer. The"
        " warnings open now are on each student's status (`warnings`).",
    )
    async def get_school_warnings(
        request: Request,
        school_id: str,
        who: Annotated[Principal, Depends(role("sis", *READERS))],
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        fmt: Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")] = "json",
    ) -> Any:
        visible_school(who, school_id)
        async with connection(pool_of()) as conn:
            rows = await queries.warning_feed(conn, school_id, after, limit)
            await queries.log_listed(
                conn,
                who,
                sorted({r["student_id"] for r in rows}),
                "warning_feed" if fmt == "json" else "export",
                request.state.request_id,
            )
        events = [WarningEvent(**r) for r in rows]
        if fmt in export.FORMATS:
            shown = [e.model_dump(mode="json") for e in events]
            return export.response(shown, fmt, school_id, WARNING_COLUMNS, "warnings")
        return WarningFeed(events=events, next_after=events[-1].seq if events else after)

    @app.get(
        "/v1/students/{student_id}/timeline",
        response_model=list[TimelineItem],
        responses={**FILES, **NOT_FOUND, **AUTH},
        summary="The student's accepted events in order",
    )
    async def get_timeline(
        request: Request,
        student_id: str,
        who: Reader,
        fmt: Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")] = "json",
    ) -> Any:
        await visible_student(request, who, student_id, "timeline" if fmt == "json" else "export")
        async with connection(pool_of()) as conn:
            items = [TimelineItem(**item) for item in await queries.timeline(conn, student_id)]
        if fmt in export.FORMATS:
            shown = [i.model_dump(mode="json") for i in items]
            return export.response(shown, fmt, student_id, TIMELINE_COLUMNS, "timeline")
        return items

    @app.get(
        "/v1/students/{student_id}/learning-account",
        response_model=LearningAccount,
        responses={**NOT_FOUND, **AUTH},
        summary="The credit bank account: credits by category and source, practice share,"
        " conversions with their evidence, each line linked to its event",
        description="`?format=json` answers the same account as a file to keep "
        "(`Content-Disposition: attachment`), logged in the access log as an `export`.",
    )
    async def get_learning_account(
        request: Request,
        student_id: str,
        who: Reader,
        fmt: Annotated[Literal["json"] | None, Query(alias="format")] = None,
    ) -> Any:
        # A download leaves the system: the access log says so (action `export`).
        await visible_student(request, who, student_id, "export" if fmt else "learning-account")
        async with connection(pool_of()) as conn:
            items = await queries.timeline(conn, student_id)
        account = LearningAccount(student_id=student_id, **queries.learning_account(items))
        if fmt is None:
            return account
        return Response(
            account.model_dump_json(indent=2),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="learning-account-{student_id}.json"'
            },
        )

    @app.get(
        "/v1/students/{student_id}/access-log",
        response_model=list[Access],
        responses={**NOT_FOUND, **AUTH},
        summary="Who viewed this student (admin)",
    )
    async def get_access_log(
        request: Request, student_id: str, who: Annotated[Principal, Depends(role("admin"))]
    ) -> list[Access]:
        async with connection(pool_of()) as conn:
            await checked_id(conn, request, who, student_id, "access_log")
            # Reading the log is itself logged: it names students and who read them.
            await queries.log_access(
                conn,
                token_id=who.token_id,
                role=who.role,
                school_id=who.school_id,
                student_id=student_id,
                action="access_log",
                outcome="allowed",
                request_id=request.state.request_id,
            )
            return [Access(**row) for row in await queries.viewers(conn, student_id)]

    @app.get(
        "/v1/schools/{school_id}/graduation",
        response_model=CohortPage,
        responses={
            200: {"content": {"text/csv": {}, export.XLSX_TYPE: {}}, "links": STUDENT_LINKS},
            **NOT_FOUND,
            **AUTH,
        },
        summary="A school's students and decisions",
        description="`?format=csv` (UTF-8 with a BOM) or `?format=xlsx` answers every page of"
        " the filtered list as a file, with the JSON list's columns. `?state=at_risk` keeps"
        " students with a requirement in that state; `?sort=urgency` lists overdue, then at"
        " risk, by the nearest due date.",
    )
    async def get_cohort(
        request: Request,
        school_id: str,
        who: Reader,
        cohort: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        class_id: Annotated[str | None, Query(max_length=50)] = None,
        eligible: bool | None = None,
        missing: Annotated[
            str | None,
            Query(pattern="^(ENROLLED|ACADEMIC|DIPLOMA|SKILL_1X|QUALITY|LABOR_MONTH|INTERNSHIP)$"),
        ] = None,
        page: Annotated[int, Query(ge=1, le=10000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=500)] = 50,
        fmt: Annotated[Literal["json", "csv", "xlsx"], Query(alias="format")] = "json",
        state: Literal["on_track", "at_risk", "overdue"] | None = None,
        sort: Literal["class", "urgency"] = "class",
    ) -> CohortPage | Response:
        visible_school(who, school_id)
        async with connection(pool_of()) as conn:
            if fmt in export.FORMATS:
                listed = await export.all_students(
                    conn,
                    school_id,
                    cohort=cohort,
                    class_id=class_id,
                    eligible=eligible,
                    missing=missing,
                    state=state,
                    sort=sort,
                )
                ids = [s["student_id"] for s in listed]
                await queries.log_listed(conn, who, ids, "export", request.state.request_id)
                return export.response(listed, fmt, school_id)
            result = await queries.cohort(
                conn,
                school_id,
                cohort=cohort,
                class_id=class_id,
                eligible=eligible,
                missing=missing,
                page=page,
                page_size=page_size,
                state=state,
                sort=sort,
            )
            await queries.log_listed(
                conn,
                who,
                [s["student_id"] for s in result["students"]],
                "cohort_list",
                request.state.request_id,
            )
        return CohortPage(**result)

    @app.get(
        "/v1/stats",
        responses={
            200: {
                "content": {
                    "application/json": {},
                    "text/csv": {},
                    XLSX: {},
                },
                "description": "headcounts by grade, eligible share, requirements met, at risk"
                " and overdue, 1+X certificates, internships and their flags, labor months,"
                " waivers",
            },
            **NOT_FOUND,
            **AUTH,
        },
        summary="Figures by school, major and cohort (the bureau: every school)",
    )
    async def get_stats(
        who: Reader,
        school: Annotated[str | None, Query(max_length=50)] = None,
        major: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z_.-]{1,20}$")] = None,
        cohort: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        as_of: Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)] = None,
        format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json",
    ) -> Response:
        if school is None and who.role not in ("bureau", "admin"):
            school = who.school_id  # a school's roles see their own school
        if school is not None:
            visible_school(who, school)
        filters = {"school_id": school, "major_code": major, "cohort": cohort}
        async with connection(pool_of()) as conn:
            result = await stats.figures(conn, filters, as_of)
        name = f"sanzheng-stats-{school or 'all'}"
        if format == "csv":
            return Response(
                stats.to_csv(result),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        if format == "xlsx":
            return Response(
                stats.to_xlsx(result),
                media_type=XLSX,
                headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
            )
        return JSONResponse(result)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "gateway"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _action_of(request: Request) -> str:
    """The access log's action for a request about a student, by its route: `status` for
    the record itself, else the route's last part (`graduation`, `timeline`, `waivers`)."""
    route = request.scope.get("route")
    last = str(getattr(route, "path", request.url.path)).rstrip("/").rsplit("/", 1)[-1]
    action = "status" if last == "{student_id}" else last.strip("{}")
    return action if request.method == "GET" else f"{request.method.lower()} {action}"
