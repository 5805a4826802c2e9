"""The write endpoints: a contact's disposition (database) and pausing an agent (AMI).

Every write is audited whatever its outcome (who, what, when, the answer's status): a refused or
failed write is as much a supervisor's act as one that went through.
"""

from __future__ import annotations

from aiohttp import web

from storage.call_pages import DispositionError, set_disposition
from storage.queries import get_call
from telephony.ami.actions import QueuePause
from telephony.ami.connection import ActionError, ActionTimeout, ConnectionLost
from telephony.api.auth import ApiError, Principal
from telephony.api.deps import DEPS_KEY, engine_of, in_thread, json_response, parse_body
from telephony.api.models import (
    DispositionIn,
    DispositionOut,
    PauseIn,
    WriteDone,
    call_of,
    work_order_of,
)


async def handle_disposition(request: web.Request, principal: Principal) -> web.StreamResponse:
    """Record what became of a finished contact: answered on the spot, or a work order with its
    id (its work order is created open), and what it was about (its category, for the report's
    hot issues). Replaces an earlier disposition. Audited."""
    deps = request.app[DEPS_KEY]
    call_id = request.match_info["call_id"]
    action = "set disposition"
    try:
        body = await parse_body(request, DispositionIn)
        engine = engine_of(deps)
        try:
            stored = await in_thread(
                lambda: set_disposition(
                    engine,
                    call_id,
                    body.disposition,
                    body.work_order_id,
                    category=body.category,
                    due_at=body.due_at,
                )
            )
        except DispositionError as exc:
            raise ApiError(409, str(exc)) from None
        if stored is None:
            raise ApiError(404, f"no finished call {call_id!r}")
        record = await in_thread(lambda: get_call(engine, call_id))
        if record is None:
            raise ApiError(404, f"no finished call {call_id!r}")
    except ApiError as exc:
        await deps.audit.record(
            principal, action, call_id, {}, status=exc.status, error=exc.message
        )
        raise
    details = body.model_dump(mode="json", exclude_none=True)
    await deps.audit.record(principal, action, call_id, details, status=200)
    call = call_of(record, show_numbers=principal.may_see_numbers, category=stored.category)
    order = stored.work_order
    return json_response(
        DispositionOut(
            **call.model_dump(),
            work_order=None if order is None else work_order_of(order, stored.category),
        )
    )


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


__all__ = ["handle_disposition", "handle_pause"]
