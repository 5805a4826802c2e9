"""The endpoints of the supervisor API: handlers, and the one table that registers and documents
them.

Every handler reads what it needs from :data:`DEPS_KEY` (the live view, the database engine, the
AMI sender, the audit log), validates its input through the pydantic models of
:mod:`telephony.api.models` (400 naming field and reason) and answers through them. Database work
runs in a thread, so the event loop never waits on it. Writes are audited whatever their outcome.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time as monotonic_clock
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Final, Protocol, TypeVar

from aiohttp import hdrs, web
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from storage.call_pages import CallFilter, page_calls, set_disposition
from storage.errors import StorageError
from storage.queries import get_call, iter_calls
from telephony.ami.actions import ActionSender, QueuePause
from telephony.ami.connection import ActionError, ActionTimeout, ConnectionLost
from telephony.api import metrics
from telephony.api.auth import Access, ApiError, AuditLog, BearerAuth, Principal
from telephony.api.models import (
    AllStatus,
    CallOut,
    CallPage,
    CallQuery,
    DispositionIn,
    ErrorBody,
    FiguresOut,
    Health,
    KpiGroup,
    KpiQuery,
    KpiReport,
    PauseIn,
    PbxEntry,
    PbxStatus,
    WriteDone,
    call_of,
    masked,
    status_of,
)
from telephony.api.openapi import Answer, Endpoint, Handler
from telephony.api.peers import PeerView
from telephony.api.wallboard import WALLBOARD_ENDPOINTS
from telephony.calls.live import LiveSnapshot
from telephony.calls.record import EXPORT_FIELDS, CallRecord, Kind
from telephony.reports.kpi import DEFAULT_SERVICE_LEVEL_S, Tally

M = TypeVar("M", bound=BaseModel)


class LiveSource(Protocol):
    """What the status endpoints read: the daemon's live state, answered from memory."""

    def health(self) -> dict[str, Any]:
        """The /healthz body: ``{"status": "ok"|"degraded"|"down", "ami": …, …}``."""
        ...

    def snapshot(self) -> LiveSnapshot:
        """What is happening now."""
        ...


@dataclass(slots=True)
class ApiDeps:
    """Everything the handlers use, built by the composition root."""

    live: LiveSource
    auth: BearerAuth
    audit: AuditLog
    tz: tzinfo
    engine: Engine | None = None
    ami: ActionSender | None = None
    service_level_s: float = DEFAULT_SERVICE_LEVEL_S
    stream_interval_s: float = 1.0
    registry: Any = None  # prometheus CollectorRegistry, built by the server
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    peers: PeerView | None = None
    # Under load many requests ask within the same tenth of a second: they share one rendering
    # (keyed by whether numbers are shown). Times in the body are rounded to 0.1 s anyway.
    status_ttl_s: float = 0.1
    _status_cache: dict[bool, tuple[float, str]] = field(default_factory=dict)

    def status_json(self, principal: Principal) -> str:
        """The /api/status body as JSON text, rendered at most once per ``status_ttl_s``."""
        now = monotonic_clock.monotonic()
        key = principal.may_see_numbers
        cached = self._status_cache.get(key)
        if cached is not None and now - cached[0] < self.status_ttl_s:
            return cached[1]
        body = current_status(self, principal).model_dump_json(by_alias=True)
        self._status_cache[key] = (now, body)
        return body


DEPS_KEY: Final = web.AppKey("deps", ApiDeps)


# --- helpers --------------------------------------------------------------------------------------


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    """A JSON response of a model (UTF-8, null fields kept, aliases used)."""
    return web.Response(
        text=model.model_dump_json(by_alias=True),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def _reason(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in error.get("loc", ()))
    msg = str(error.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    if not loc:
        return msg
    return f"{loc}: {msg}"


def _bad_request(exc: ValidationError, where: str) -> ApiError:
    errors = exc.errors(include_url=False, include_input=False)
    reasons = "; ".join(_reason(e) for e in errors[:3])
    return ApiError(400, f"{where}: {reasons}" if where else reasons)


def parse_query(request: web.Request, model: type[M]) -> M:
    """The query string as `model`; 400 naming the parameter and the reason."""
    values: dict[str, str] = {}
    for key in request.query:
        got = request.query.getall(key)
        if len(got) > 1:
            raise ApiError(400, f"query {key}: given {len(got)} times")
        values[key] = got[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _bad_request(exc, "query") from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    """The JSON body as `model`; 400 naming the field and the reason."""
    raw = await request.read()
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise ApiError(400, "body: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"body: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _bad_request(exc, "body") from None


def _engine(deps: ApiDeps) -> Engine:
    if deps.engine is None:
        raise ApiError(503, "no database is attached to this daemon")
    return deps.engine


async def _in_thread(fn: Callable[[], M | Any]) -> Any:
    try:
        return await asyncio.to_thread(fn)
    except StorageError as exc:
        raise ApiError(503, f"database: {exc}") from None


# --- read endpoints -------------------------------------------------------------------------------


async def handle_health(request: web.Request) -> web.StreamResponse:
    """200 while ok or degraded, 503 when down. Anonymous callers learn only the status once
    tokens are configured (the details name the AMI user and the PBX address)."""
    deps = request.app[DEPS_KEY]
    body = deps.live.health()
    status = body.get("status")
    if status not in ("ok", "degraded", "down"):
        status = "down"
    if deps.auth.open or deps.auth.principal(request) is not None:
        health = Health.model_validate({**body, "status": status})
    else:
        health = Health(status=status)
    return web.Response(
        text=health.model_dump_json(exclude_none=True),
        status=200 if status in ("ok", "degraded") else 503,
        content_type="application/json",
    )


def current_status(deps: ApiDeps, principal: Principal) -> PbxStatus:
    """The live status as `principal` may see it."""
    return status_of(deps.live.snapshot(), show_numbers=principal.may_see_numbers)


async def handle_status(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Live contacts (in IVR / waiting / talking, with their wait so far), queues, agents by
    state and today's KPIs of this PBX. Callers are masked unless the token may see numbers."""
    return web.Response(
        text=request.app[DEPS_KEY].status_json(principal),
        content_type="application/json",
        charset="utf-8",
    )


async def handle_status_all(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Every PBX whose daemon publishes to this database: this one live, the others as of their
    last publication (a few seconds old; ``stale`` when its daemon stopped publishing)."""
    deps = request.app[DEPS_KEY]
    local = current_status(deps, principal)
    entries = [PbxEntry(published_at=local.now, age_s=0.0, stale=False, status=local)]
    peers = deps.peers
    if peers is not None:
        for peer in list(peers.peers.values()):
            age = (local.now - peer.published_at).total_seconds()
            status = peer.status if principal.may_see_numbers else masked(peer.status)
            entries.append(
                PbxEntry(
                    published_at=peer.published_at,
                    age_s=round(max(0.0, age), 1),
                    stale=peers.is_stale(peer.published_at),
                    status=status,
                )
            )
    entries.sort(key=lambda e: e.status.pbx)
    return json_response(AllStatus(now=local.now, pbxs=entries))


async def handle_status_stream(request: web.Request, principal: Principal) -> web.StreamResponse:
    """The live status as Server-Sent Events: one ``data:`` line of the /api/status body every
    second, until the client goes away or the daemon stops."""
    deps = request.app[DEPS_KEY]
    response = web.StreamResponse(
        headers={
            hdrs.CONTENT_TYPE: "text/event-stream; charset=utf-8",
            hdrs.CACHE_CONTROL: "no-cache",
        }
    )
    await response.prepare(request)
    try:
        while not deps.stopping.is_set():
            body = deps.status_json(principal)
            await response.write(f"event: status\ndata: {body}\n\n".encode())
            try:
                await asyncio.wait_for(deps.stopping.wait(), deps.stream_interval_s)
            except TimeoutError:
                continue
    except (ConnectionResetError, ConnectionError):
        return response
    return response


async def handle_metrics(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Prometheus text exposition (prometheus-client): health, live calls, queues, agents and
    today's figures."""
    deps = request.app[DEPS_KEY]
    body = metrics.exposition(deps.registry)
    response = web.Response(body=body)
    response.headers[hdrs.CONTENT_TYPE] = metrics.CONTENT_TYPE
    return response


def _csv(records: list[CallOut]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_FIELDS)
    for record in records:
        row = record.model_dump(mode="json")
        writer.writerow(
            "" if row[name] is None else ("/".join(row[name]) if name == "ivr_path" else row[name])
            for name in EXPORT_FIELDS
        )
    return out.getvalue()


async def handle_calls(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Finished call records, filtered, in export order, a page at a time; ``format=csv`` gives
    the page as CSV (the columns of ``hotline calls --format csv``)."""
    deps = request.app[DEPS_KEY]
    query = parse_query(request, CallQuery)
    engine = _engine(deps)
    where = CallFilter(
        start=query.from_,
        end=query.to,
        pbx=query.pbx,
        queue=query.queue,
        agent=query.agent,
        outcome=None if query.outcome is None else query.outcome.value,
        kind=None if query.kind is None else query.kind.value,
    )
    total, records = await _in_thread(
        lambda: page_calls(engine, where, limit=query.limit, offset=query.offset)
    )
    items = [call_of(r, show_numbers=principal.may_see_numbers) for r in records]
    if query.format == "csv":
        return web.Response(
            text=_csv(items),
            content_type="text/csv",
            charset="utf-8",
            headers={"X-Total-Count": str(total)},
        )
    return json_response(CallPage(total=total, offset=query.offset, limit=query.limit, items=items))


def _group_key(by: str, record: CallRecord, tz: tzinfo) -> str:
    if by == "queue":
        return record.queue or "(none)"
    if by == "agent":
        return record.agent or "(none)"
    local = record.started_at.astimezone(tz) if record.started_at else None
    if local is None:
        return "(none)"
    return local.date().isoformat() if by == "day" else f"{local.hour:02d}"


def kpi_report(engine: Engine, query: KpiQuery, tz: tzinfo, service_level_s: float) -> KpiReport:
    """KPIs of a period from the stored records, grouped (runs in a thread)."""
    start = datetime.combine(query.from_, time(0), tz)
    end = (
        None
        if query.to >= date.max
        else datetime.combine(query.to + timedelta(days=1), time(0), tz)
    )
    total = Tally()
    groups: dict[str, Tally] = {}
    for record in iter_calls(engine, start=start, end=end, pbx=query.pbx):
        if record.kind is not Kind.CITIZEN:
            continue
        total.add(record, service_level_s)
        if query.by != "total":
            key = _group_key(query.by, record, tz)
            groups.setdefault(key, Tally()).add(record, service_level_s)
    return KpiReport(
        from_=query.from_,
        to=query.to,
        by=query.by,
        total=FiguresOut.of(total.figures()),
        groups=[
            KpiGroup(key=key, figures=FiguresOut.of(t.figures()))
            for key, t in sorted(groups.items())
        ],
    )


async def handle_kpi(request: web.Request, principal: Principal) -> web.StreamResponse:
    """KPIs of a period (GB/T 33358 definitions, see the README), in total and per queue, agent,
    day or hour of day."""
    deps = request.app[DEPS_KEY]
    query = parse_query(request, KpiQuery)
    engine = _engine(deps)
    report = await _in_thread(lambda: kpi_report(engine, query, deps.tz, deps.service_level_s))
    return json_response(report)


# --- writes ---------------------------------------------------------------------------------------


async def handle_disposition(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Record what became of a finished contact: answered on the spot, or a work order with its
    id. Audited."""
    deps = request.app[DEPS_KEY]
    call_id = request.match_info["call_id"]
    action = "set disposition"
    try:
        body = await parse_body(request, DispositionIn)
        engine = _engine(deps)
        found = await _in_thread(
            lambda: set_disposition(engine, call_id, body.disposition, body.work_order_id)
        )
        if not found:
            raise ApiError(404, f"no finished call {call_id!r}")
        record = await _in_thread(lambda: get_call(engine, call_id))
        if record is None:
            raise ApiError(404, f"no finished call {call_id!r}")
    except ApiError as exc:
        await deps.audit.record(
            principal, action, call_id, {}, status=exc.status, error=exc.message
        )
        raise
    await deps.audit.record(principal, action, call_id, body.model_dump(mode="json"), status=200)
    return json_response(call_of(record, show_numbers=principal.may_see_numbers))


async def handle_pause(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Pause or unpause an agent in one queue or all (AMI ``QueuePause``). Audited."""
    deps = request.app[DEPS_KEY]
    action = "pause agent"
    target = "?"
    try:
        body = await parse_body(request, PauseIn)
        target = body.interface
        if deps.ami is None:
            raise ApiError(503, "no PBX link is attached to this daemon")
        try:
            response = await deps.ami.send(
                QueuePause(body.interface, body.paused, queue=body.queue, reason=body.reason)
            )
        except ActionError as exc:
            # The PBX refuses what it cannot do for this request (no such interface, queue).
            raise ApiError(409, f"the PBX refused QueuePause: {exc.message}") from None
        except ActionTimeout:
            raise ApiError(504, "the PBX did not answer QueuePause in time") from None
        except ConnectionLost:
            raise ApiError(503, "the PBX link is not ready; try again") from None
    except ApiError as exc:
        await deps.audit.record(principal, action, target, {}, status=exc.status, error=exc.message)
        raise
    await deps.audit.record(principal, action, target, body.model_dump(mode="json"), status=200)
    return json_response(WriteDone(message=response.get("Message")))


# --- the table ------------------------------------------------------------------------------------


Guarded = Callable[[web.Request, Principal], Any]


def _guard(access: Access, handler: Guarded) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        principal = request.app[DEPS_KEY].auth.authorize(request, access)
        result: web.StreamResponse = await handler(request, principal)
        return result

    run.__doc__ = handler.__doc__
    run.__name__ = handler.__name__
    return run


async def handle_openapi(request: web.Request) -> web.StreamResponse:
    """This document."""
    return web.json_response(request.app[OPENAPI_KEY])


OPENAPI_KEY: Final = web.AppKey("openapi", dict)

_OBJECT: Final = {"type": "object"}


def _errors(*answers: tuple[int, str]) -> tuple[Answer, ...]:
    return tuple(Answer(status, text, ErrorBody) for status, text in answers)


ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint(
        "GET",
        "/healthz",
        "health",
        "Health of the daemon",
        Access.PUBLIC,
        handle_health,
        (Answer(200, "ok or degraded", Health), Answer(503, "down", Health)),
    ),
    Endpoint(
        "GET",
        "/api/openapi.json",
        "openapi",
        "This OpenAPI document",
        Access.PUBLIC,
        handle_openapi,
        (Answer(200, "the document", schema=_OBJECT),),
    ),
    Endpoint(
        "GET",
        "/api/status",
        "status",
        "Live status of this PBX",
        Access.READ,
        _guard(Access.READ, handle_status),
        (Answer(200, "the live picture", PbxStatus),),
    ),
    Endpoint(
        "GET",
        "/api/status/all",
        "status_all",
        "Live status of every PBX",
        Access.READ,
        _guard(Access.READ, handle_status_all),
        (Answer(200, "every PBX publishing to this database", AllStatus),),
    ),
    Endpoint(
        "GET",
        "/api/status/stream",
        "status_stream",
        "Live status as Server-Sent Events",
        Access.READ,
        _guard(Access.READ, handle_status_stream),
        (
            Answer(
                200,
                "an endless event stream; each event's data is a PbxStatus",
                media_type="text/event-stream",
            ),
        ),
    ),
    Endpoint(
        "GET",
        "/metrics",
        "metrics",
        "Prometheus metrics",
        Access.READ,
        _guard(Access.READ, handle_metrics),
        (Answer(200, "text exposition format 0.0.4", media_type="text/plain"),),
    ),
    Endpoint(
        "GET",
        "/api/calls",
        "calls",
        "Call records",
        Access.READ,
        _guard(Access.READ, handle_calls),
        (
            Answer(
                200,
                "a page of records (text/csv with format=csv; X-Total-Count holds the total)",
                CallPage,
                also=(("text/csv", {"type": "string"}),),
            ),
            *_errors((503, "no database attached, or it is failing")),
        ),
        query=CallQuery,
        tag="records",
    ),
    Endpoint(
        "GET",
        "/api/reports/kpi",
        "kpi",
        "KPIs of a period",
        Access.READ,
        _guard(Access.READ, handle_kpi),
        (
            Answer(200, "the figures", KpiReport),
            *_errors((503, "no database attached, or it is failing")),
        ),
        query=KpiQuery,
        tag="records",
    ),
    Endpoint(
        "POST",
        "/api/calls/{call_id}/disposition",
        "set_disposition",
        "Set a contact's disposition",
        Access.WRITE,
        _guard(Access.WRITE, handle_disposition),
        (
            Answer(200, "the updated record", CallOut),
            *_errors(
                (404, "no such finished call"), (503, "no database attached, or it is failing")
            ),
        ),
        body=DispositionIn,
        path_params={"call_id": "the call's id (PBX id + Linkedid)"},
        tag="writes",
    ),
    Endpoint(
        "POST",
        "/api/agents/pause",
        "pause_agent",
        "Pause or unpause an agent",
        Access.WRITE,
        _guard(Access.WRITE, handle_pause),
        (
            Answer(200, "the PBX accepted it", WriteDone),
            *_errors(
                (409, "the PBX refused it (no such interface or queue)"),
                (503, "no PBX link, or it is not ready"),
                (504, "the PBX did not answer in time"),
            ),
        ),
        body=PauseIn,
        tag="writes",
    ),
    *WALLBOARD_ENDPOINTS,
)


__all__ = [
    "DEPS_KEY",
    "ENDPOINTS",
    "OPENAPI_KEY",
    "ApiDeps",
    "LiveSource",
    "current_status",
    "json_response",
    "kpi_report",
    "parse_body",
    "parse_query",
]
