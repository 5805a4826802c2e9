"""Work orders (工单): the list, one work order, and moving one (closed / reopened).

A work order is created by a contact's work-order disposition (:mod:`telephony.api.writes`).
Closing it records when (on time or late follows from its due time); a dissatisfied callback
reopens it. Moves are checked against its state in the database transaction that makes them
(:func:`storage.workorders.move_work_order`): closing a closed one or reopening an open one is a
409, not a silent second count. Every move is audited, whatever its outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from storage.workorders import (
    TransitionError,
    WorkOrderFilter,
    WorkOrderState,
    move_work_order,
    page_work_orders,
)
from telephony.api.auth import ApiError, Principal
from telephony.api.deps import (
    DEPS_KEY,
    engine_of,
    in_thread,
    json_response,
    parse_body,
    parse_query,
)
from telephony.api.models import (
    WorkOrderOut,
    WorkOrderPage,
    WorkOrderQuery,
    WorkOrderStateIn,
    work_order_of,
)


def _utc(value: datetime | None) -> datetime | None:
    """`value` in UTC; the first or last hours of the calendar, which no UTC time can hold,
    become its first or last instant."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        if value.year == 1:
            return datetime.min.replace(tzinfo=UTC)
        return datetime.max.replace(tzinfo=UTC)


async def handle_work_orders(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Work orders, oldest first, filtered (created window, state, PBX, contact, overdue), a
    page at a time, each with its contact's category and whether it was closed on time."""
    deps = request.app[DEPS_KEY]
    query = parse_query(request, WorkOrderQuery)
    engine = engine_of(deps)
    where = WorkOrderFilter(
        start=_utc(query.from_),
        end=_utc(query.to),
        state=query.state,
        pbx=query.pbx,
        call_id=query.call_id,
        overdue_at=datetime.now(UTC) if query.overdue else None,
    )
    total, rows = await in_thread(
        lambda: page_work_orders(engine, where, limit=query.limit, offset=query.offset)
    )
    items = [work_order_of(order, category) for order, category in rows]
    return json_response(
        WorkOrderPage(total=total, offset=query.offset, limit=query.limit, items=items)
    )


async def _one(request: web.Request, work_order_id: str) -> WorkOrderOut:
    engine = engine_of(request.app[DEPS_KEY])
    where = WorkOrderFilter(work_order_id=work_order_id)
    _, rows = await in_thread(lambda: page_work_orders(engine, where, limit=1, offset=0))
    if not rows:
        raise ApiError(404, f"no work order {work_order_id!r}")
    order, category = rows[0]
    return work_order_of(order, category)


async def handle_work_order(request: web.Request, principal: Principal) -> web.StreamResponse:
    """One work order."""
    return json_response(await _one(request, request.match_info["work_order_id"]))


async def handle_work_order_state(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Close a work order now (on time when by its due time) or reopen it after a dissatisfied
    callback. Audited."""
    deps = request.app[DEPS_KEY]
    work_order_id = request.match_info["work_order_id"]
    action = "set work order state"
    try:
        body = await parse_body(request, WorkOrderStateIn)
        at = datetime.now(UTC)
        state = WorkOrderState(body.state)
        engine = engine_of(deps)
        try:
            moved = await in_thread(lambda: move_work_order(engine, work_order_id, state, at))
        except TransitionError as exc:
            raise ApiError(409, str(exc)) from None
        if moved is None:
            raise ApiError(404, f"no work order {work_order_id!r}")
        answer = await _one(request, work_order_id)
    except ApiError as exc:
        await deps.audit.record(
            principal, action, work_order_id, {}, status=exc.status, error=exc.message
        )
        raise
    details = {**body.model_dump(mode="json", exclude_none=True), "at": at.isoformat()}
    await deps.audit.record(principal, action, work_order_id, details, status=200)
    return json_response(answer)


__all__ = ["handle_work_order", "handle_work_order_state", "handle_work_orders"]
