"""The endpoints of the supervisor API: the read handlers, and the one table that registers
and documents every endpoint (reads, :mod:`telephony.api.writes`, the wallboard).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from typing import Any, Final

from aiohttp import hdrs, web

from storage.call_pages import CallFilter, page_calls
from telephony.api import metrics
from telephony.api.announcements import announcement_endpoints
from telephony.api.auth import Access, Principal
from telephony.api.deps import (
    DEPS_KEY,
    current_status,
    engine_of,
    in_thread,
    json_response,
    parse_query,
)
from telephony.api.kpi import handle_kpi
from telephony.api.models import (
    AllStatus,
    CallOut,
    CallPage,
    CallQuery,
    DispositionIn,
    DispositionOut,
    ErrorBody,
    Health,
    KpiQuery,
    KpiReport,
    PauseIn,
    PbxEntry,
    PbxStatus,
    WorkOrderOut,
    WorkOrderPage,
    WorkOrderQuery,
    WorkOrderStateIn,
    WriteDone,
    call_of,
    masked,
)
from telephony.api.openapi import Answer, Endpoint, Handler
from telephony.api.surveys import survey_endpoints
from telephony.api.wallboard import WALLBOARD_ENDPOINTS
from telephony.api.work_orders import (
    handle_work_order,
    handle_work_order_state,
    handle_work_orders,
)
from telephony.api.writes import handle_disposition, handle_pause
from telephony.calls.record import EXPORT_FIELDS
from telephony.export import csv_cell

# --- read endpoints -------------------------------------------------------------------------------


async def handle_health(request: web.Request) -> web.StreamResponse:
    """200 while ok or degraded, 503 when down. Anonymous callers learn only the status once
    tokens are configured (the details name the AMI user and the PBX address)."""
    deps = request.app[DEPS_KEY]
    parts = deps.live.health()
    details = deps.auth.open or deps.auth.principal(request) is not None
    health = Health.of(parts, details=details)
    return web.Response(
        text=health.model_dump_json(exclude_unset=True),
        status=200 if health.status in ("ok", "degraded") else 503,
        content_type="application/json",
    )


async def handle_status(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Live contacts (in IVR / waiting / talking, with their wait so far), queues, agents by
    state and today's KPIs of this PBX. Callers are masked unless the token may see numbers."""
    deps = request.app[DEPS_KEY]
    await deps.notices.refresh()
    return web.Response(
        text=await deps.status_json(principal),
        content_type="application/json",
        charset="utf-8",
    )


async def handle_status_all(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Every PBX whose daemon publishes to this database: this one live, the others as of their
    last publication (a few seconds old; ``stale`` when its daemon stopped publishing)."""
    deps = request.app[DEPS_KEY]
    await deps.notices.refresh()
    local = await current_status(deps, principal)
    entries = [PbxEntry(published_at=local.now, age_s=0.0, stale=False, status=local)]
    peers = deps.peers
    if peers is not None:
        for peer in list(peers.peers.values()):
            # Wall-clock age: a PBX's own clock (the demo's simulated one) may run faster.
            age = peers.wall() - peer.published_at.timestamp()
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
            await deps.notices.refresh()
            body = await deps.status_json(principal)
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
        writer.writerow(csv_cell(name, row[name]) for name in EXPORT_FIELDS)
    return out.getvalue()


async def handle_calls(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Finished call records, filtered, in export order, a page at a time; ``format=csv`` gives
    the page as CSV (the columns of ``hotline calls --format csv``)."""
    deps = request.app[DEPS_KEY]
    query = parse_query(request, CallQuery)
    engine = engine_of(deps)
    where = CallFilter(
        start=query.from_,
        end=query.to,
        pbx=query.pbx,
        queue=query.queue,
        agent=query.agent,
        outcome=None if query.outcome is None else query.outcome.value,
        kind=None if query.kind is None else query.kind.value,
    )
    total, records = await in_thread(
        lambda: page_calls(engine, where, limit=query.limit, offset=query.offset)
    )
    items = [
        call_of(r, show_numbers=principal.may_see_numbers, category=category)
        for r, category in records
    ]
    if query.format == "csv":
        return web.Response(
            text=_csv(items),
            content_type="text/csv",
            charset="utf-8",
            headers={"X-Total-Count": str(total)},
        )
    return json_response(CallPage(total=total, offset=query.offset, limit=query.limit, items=items))


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
            Answer(200, "the updated record, its category and work order", DispositionOut),
            *_errors(
                (404, "no such finished call"),
                (409, "the work order id is another contact's, or its work order has moved on"),
                (503, "no database attached, or it is failing"),
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
    Endpoint(
        "GET",
        "/api/work-orders",
        "work_orders",
        "Work orders",
        Access.READ,
        _guard(Access.READ, handle_work_orders),
        (
            Answer(200, "a page of work orders", WorkOrderPage),
            *_errors((503, "no database attached, or it is failing")),
        ),
        query=WorkOrderQuery,
        tag="work orders",
    ),
    Endpoint(
        "GET",
        "/api/work-orders/{work_order_id}",
        "work_order",
        "One work order",
        Access.READ,
        _guard(Access.READ, handle_work_order),
        (
            Answer(200, "the work order", WorkOrderOut),
            *_errors((404, "no such work order"), (503, "no database attached, or it is failing")),
        ),
        path_params={"work_order_id": "the work order's id"},
        tag="work orders",
    ),
    Endpoint(
        "PATCH",
        "/api/work-orders/{work_order_id}",
        "set_work_order_state",
        "Close or reopen a work order",
        Access.WRITE,
        _guard(Access.WRITE, handle_work_order_state),
        (
            Answer(200, "the work order as stored now", WorkOrderOut),
            *_errors(
                (404, "no such work order"),
                (409, "its state does not allow it (closing a closed one, reopening an open one)"),
                (503, "no database attached, or it is failing"),
            ),
        ),
        body=WorkOrderStateIn,
        path_params={"work_order_id": "the work order's id"},
        tag="work orders",
    ),
    *announcement_endpoints(_guard),
    *survey_endpoints(_guard),
    *WALLBOARD_ENDPOINTS,
)


__all__ = ["ENDPOINTS", "OPENAPI_KEY"]
