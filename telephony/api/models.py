"""Request and response bodies of the supervisor API as pydantic models.

These models are the contract: handlers validate what comes in and serialise what goes out through
them, and ``/api/openapi.json`` is generated from them (:mod:`telephony.api.openapi`), so the
document cannot drift from the handlers. Citizens' numbers are masked while converting from the
domain values (:func:`status_of`, :func:`call_of`) unless the caller's token may see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    RootModel,
)

from storage.announcements import Announcement
from storage.workorders import WorkOrder, WorkOrderState
from telephony.api.health_models import JournalOut, LinkOut, RecoveryOut, TrackerOut, WriterOut
from telephony.calls.live import AgentState, CallState, LiveSnapshot
from telephony.calls.record import CallRecord, Direction, Disposition, HangupBy, Kind, Outcome
from telephony.health import Health as HealthParts
from telephony.health import HealthStatus
from telephony.privacy import mask_number
from telephony.reports.kpi import Figures


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


WorkOrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w./-]+$")]
"""A work order's id in the city's case system."""

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""Text that goes into an AMI header: one line, no control characters."""

# No control characters; no white space at either end, spelled out (\s differs between Python's
# re, the Rust regex pydantic validates with and schemathesis' generator; str.strip() removes
# every Unicode White_Space character, so the ends must exclude all of them).
_EDGE = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
ONE_LINE = rf"^{_EDGE}(?:[^\x00-\x1f\x7f]*{_EDGE})?$"
"""A one-line text with no white space at either end (as a regular expression)."""

Category = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=ONE_LINE,
        description="what the contact was about (hot issues of the report), e.g. 供水 or water",
        examples=["water"],
    ),
]
"""A disposition's category: one line, no surrounding spaces."""

Note = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]+$")]
"""Free text kept in the audit log."""


def _storable(value: datetime) -> datetime:
    # The year as written, like the documented pattern; then UTC cannot overflow.
    if not 1970 <= value.year <= 9998:
        raise ValueError("must be between 1970 and 9998")
    return value.astimezone(UTC)


_YEARS_1970_TO_9998 = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])-"

StorableTime = Annotated[
    AwareDatetime,
    AfterValidator(_storable),
    Field(json_schema_extra={"pattern": _YEARS_1970_TO_9998}),
]
"""An aware time a database column holds (ISO 8601 with an offset, years 1970 to 9998; stored
in UTC)."""


class ErrorBody(_Out):
    """Every error response: what went wrong and where (``field: reason`` for a bad request)."""

    error: str = Field(examples=["disposition: Input should be 'on_spot' or 'work_order'"])


class Health(_Out):
    """``/healthz``: overall status; the parts only for a caller with a read token."""

    status: HealthStatus
    ami: LinkOut | None = None
    database: WriterOut | None = None
    journal: JournalOut | None = None
    recovery: RecoveryOut | None = None
    tracker: TrackerOut | None = None

    @classmethod
    def of(cls, health: HealthParts, *, details: bool) -> Health:
        """The status alone, or with every part when `details`."""
        if not details:
            return cls(status=health.status)
        return cls(
            status=health.status,
            ami=LinkOut.of(health.ami),
            database=WriterOut.of(health.database),
            journal=JournalOut.of(health.journal),
            recovery=RecoveryOut.of(health.recovery),
            tracker=TrackerOut.of(health.tracker),
        )


class LiveCallOut(_Out):
    """A contact in progress."""

    call_id: str
    state: CallState
    kind: Kind
    caller: str | None = Field(description="masked (139******78) unless the token may see numbers")
    queue: str | None
    agent: str | None
    ivr_path: list[str]
    since: AwareDatetime | None
    seconds: float | None = Field(description="in the current state, so far")


class Totals(_Out):
    """Contacts in progress by state."""

    ivr: NonNegativeInt
    waiting: NonNegativeInt
    talking: NonNegativeInt


class QueueOut(_Out):
    """A queue now."""

    name: str
    waiting: NonNegativeInt
    longest_wait_s: float
    members: NonNegativeInt
    available: NonNegativeInt


class AgentOut(_Out):
    """A queue member now."""

    name: str
    interface: str
    queues: list[str]
    state: AgentState


class FiguresOut(_Out):
    """KPIs of a period (definitions in ``telephony/reports/kpi.py``); ratios 0..1, null when
    there is nothing to divide by."""

    contacts: NonNegativeInt
    offered: NonNegativeInt
    answered: NonNegativeInt
    abandoned: NonNegativeInt
    no_agent: NonNegativeInt
    self_service: NonNegativeInt
    on_spot: NonNegativeInt
    work_orders: NonNegativeInt
    survey_answers: NonNegativeInt
    connection_rate: float | None
    service_level: float | None
    abandonment_rate: float | None
    asa_s: float | None
    aht_s: float | None
    satisfaction_rate: float | None

    @classmethod
    def of(cls, figures: Figures) -> FiguresOut:
        """From the KPI module's figures."""
        return cls.model_validate(figures, from_attributes=True)


class TodayOut(_Out):
    """Today's figures in the reporting zone."""

    date: date
    figures: FiguresOut
    by_outcome: dict[str, NonNegativeInt]
    contacts_by_hour: list[NonNegativeInt] = Field(min_length=24, max_length=24)


class AnnouncementNow(_Out):
    """An announcement callers hear now (the wallboard shows it); times in the view's zone."""

    id: int
    text_zh: str
    text_en: str | None
    queue: str | None = Field(description="only callers routed to this queue; null: everyone")
    valid_from: AwareDatetime
    valid_to: AwareDatetime


class PbxStatus(_Out):
    """The live picture of one PBX."""

    pbx: str
    now: AwareDatetime
    link: LinkOut
    calls: list[LiveCallOut]
    totals: Totals
    queues: list[QueueOut]
    agents: list[AgentOut]
    today: TodayOut
    announcements: list[AnnouncementNow] = Field(
        default_factory=list, description="active now (from the database this daemon uses)"
    )


class PbxEntry(_Out):
    """One PBX in the multi-PBX view: its status as of ``published_at``."""

    published_at: AwareDatetime
    age_s: float = Field(description="seconds since it was published (0 for this daemon's PBX)")
    stale: bool = Field(description="not published for three intervals: its daemon may be down")
    status: PbxStatus


class AllStatus(_Out):
    """Every PBX that publishes to this database: this daemon's live, the others' latest."""

    now: AwareDatetime
    pbxs: list[PbxEntry]


def masked(status: PbxStatus) -> PbxStatus:
    """`status` with its callers masked."""
    calls = [c.model_copy(update={"caller": mask_number(c.caller)}) for c in status.calls]
    return status.model_copy(update={"calls": calls})


def status_of(
    snapshot: LiveSnapshot,
    *,
    show_numbers: bool,
    announcements: Sequence[Announcement] = (),
) -> PbxStatus:
    """The API view of a live snapshot (with the `announcements` active at its time); callers
    masked unless `show_numbers`."""
    zone = snapshot.now.tzinfo
    return PbxStatus(
        announcements=[
            AnnouncementNow(
                id=a.id,
                text_zh=a.text_zh,
                text_en=a.text_en,
                queue=a.queue,
                valid_from=a.valid_from.astimezone(zone),
                valid_to=a.valid_to.astimezone(zone),
            )
            for a in announcements
            if a.active(snapshot.now)
        ],
        pbx=snapshot.pbx,
        now=snapshot.now,
        link=LinkOut.of(snapshot.link),
        calls=[
            LiveCallOut(
                call_id=c.call_id,
                state=c.state,
                kind=c.kind,
                caller=c.caller if show_numbers else mask_number(c.caller),
                queue=c.queue,
                agent=c.agent,
                ivr_path=list(c.ivr_path),
                since=c.since,
                seconds=c.seconds,
            )
            for c in snapshot.calls
        ],
        totals=Totals(**{state.value: n for state, n in snapshot.totals.items()}),
        queues=[QueueOut.model_validate(q, from_attributes=True) for q in snapshot.queues],
        agents=[
            AgentOut(name=a.name, interface=a.interface, queues=list(a.queues), state=a.state)
            for a in snapshot.agents
        ],
        today=TodayOut(
            date=snapshot.today.day,
            figures=FiguresOut.of(snapshot.today.figures),
            by_outcome=snapshot.today.by_outcome,
            contacts_by_hour=list(snapshot.today.contacts_by_hour),
        ),
    )


# --- call records ---------------------------------------------------------------------------------


class CallOut(_Out):
    """A call record, the fields of ``hotline calls`` (docs/call-records.md); caller and dialed
    masked unless the token may see numbers."""

    call_id: str
    pbx: str
    direction: Direction
    kind: Kind
    caller: str | None
    dialed: str | None
    started_at: AwareDatetime | None
    ivr_path: list[str]
    queue: str | None
    queued_at: AwareDatetime | None
    answered_at: AwareDatetime | None
    agent: str | None
    ended_at: AwareDatetime | None
    wait_s: float | None
    talk_s: float | None
    outcome: Outcome
    hangup_cause: int | None
    hangup_by: HangupBy | None
    transferred: bool
    hold_s: float
    recording: str | None
    disposition: Disposition | None
    work_order_id: str | None
    survey_rating: int | None
    category: str | None = Field(
        default=None, description="what the contact was about, set with the disposition"
    )


def call_of(record: CallRecord, *, show_numbers: bool, category: str | None = None) -> CallOut:
    """The API view of a call record (and its disposition's category, stored beside it)."""
    body = {**record.export(), "category": category}
    if not show_numbers:
        body["caller"] = mask_number(body.get("caller"))
        if record.direction is not Direction.INBOUND:
            # Inbound, `dialed` is the hotline's own number; outbound, it is the citizen's.
            body["dialed"] = mask_number(body.get("dialed"))
    return CallOut.model_validate(body)


class CallQuery(_In):
    """Filters and paging of ``GET /api/calls`` (times ISO 8601 with offset; window on
    ``started_at``, half-open)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    pbx: str | None = Field(default=None, max_length=64)
    queue: str | None = Field(default=None, max_length=200)
    agent: str | None = Field(default=None, max_length=200)
    outcome: Outcome | None = None
    kind: Kind | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10_000_000)
    format: Literal["json", "csv"] = "json"


class CallPage(_Out):
    """One page of call records in export order."""

    total: NonNegativeInt
    offset: NonNegativeInt
    limit: NonNegativeInt
    items: list[CallOut]


# --- reports --------------------------------------------------------------------------------------


class KpiQuery(_In):
    """``GET /api/reports/kpi``: a period (``from`` and ``to``, dates in the reporting zone,
    ``to`` inclusive; ``to`` before ``from`` is an empty period), grouped by one dimension or
    not at all."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    by: Literal["total", "queue", "agent", "day", "hour"] = "total"
    pbx: str | None = Field(default=None, max_length=64)


class KpiGroup(_Out):
    """The figures of one group (a queue, an agent, a day ``2026-11-24``, an hour ``09``)."""

    key: str
    figures: FiguresOut


class KpiReport(_Out):
    """KPIs of a period: all of it, and per group."""

    from_: date = Field(serialization_alias="from")
    to: date
    by: str
    total: FiguresOut
    groups: list[KpiGroup]


# --- writes ---------------------------------------------------------------------------------------


class OnSpotIn(_In):
    """The operator resolved the contact during the call (当场答复)."""

    disposition: Literal[Disposition.ON_SPOT]
    category: Category | None = None


class WorkOrderIn(_In):
    """The contact became a work order handed to a department (工单), with its id; the work
    order is created open (now), due at ``due_at`` when the department's deadline is known."""

    disposition: Literal[Disposition.WORK_ORDER]
    work_order_id: WorkOrderId
    category: Category | None = None
    due_at: StorableTime | None = None


class DispositionIn(
    RootModel[Annotated[OnSpotIn | WorkOrderIn, Field(discriminator="disposition")]]
):
    """What became of a contact: answered on the spot, or a work order (its id required)."""

    @property
    def disposition(self) -> Disposition:
        """Which of the two."""
        return self.root.disposition

    @property
    def work_order_id(self) -> str | None:
        """The work order's id, for a work order."""
        return self.root.work_order_id if isinstance(self.root, WorkOrderIn) else None

    @property
    def category(self) -> str | None:
        """What the contact was about."""
        return self.root.category

    @property
    def due_at(self) -> datetime | None:
        """The work order's due time, if given."""
        return self.root.due_at if isinstance(self.root, WorkOrderIn) else None


class PauseIn(_In):
    """Pause or unpause an agent (a queue member's interface), in one queue or in all."""

    interface: Name
    paused: bool
    queue: Name | None = None
    reason: Name | None = None


class WorkOrderOut(_Out):
    """A work order (工单) and where it is; times UTC."""

    work_order_id: str
    call_id: str | None = Field(description="the contact it came from")
    pbx: str | None
    state: WorkOrderState
    created_at: AwareDatetime
    due_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    reopened: NonNegativeInt = Field(description="times reopened (after dissatisfied callbacks)")
    on_time: bool | None = Field(
        description="closed by its due time; null while open or without a due time"
    )
    category: str | None = Field(description="its contact's category")


def work_order_of(order: WorkOrder, category: str | None) -> WorkOrderOut:
    """The API view of a stored work order."""
    on_time = None
    if order.closed_at is not None and order.due_at is not None:
        on_time = order.closed_at <= order.due_at
    return WorkOrderOut(
        work_order_id=order.work_order_id,
        call_id=order.call_id,
        pbx=order.pbx,
        state=order.state,
        created_at=order.created_at,
        due_at=order.due_at,
        closed_at=order.closed_at,
        reopened=order.reopened,
        on_time=on_time,
        category=category,
    )


class DispositionOut(CallOut):
    """The record after a disposition, with (for a work order) the work order as stored."""

    work_order: WorkOrderOut | None


class WorkOrderStateIn(_In):
    """Close a work order (on time or late follows from its due time) or reopen it (a
    dissatisfied callback sends it back). It happens now: the API does not backdate."""

    state: Literal["closed", "reopened"]
    reason: Note | None = Field(default=None, description="kept in the audit log")


class WorkOrderQuery(_In):
    """Filters and paging of ``GET /api/work-orders`` (window on ``created_at``, half-open;
    ``overdue=true``: not closed and past the due time now)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    state: WorkOrderState | None = None
    pbx: str | None = Field(default=None, max_length=64)
    call_id: str | None = Field(default=None, max_length=200)
    overdue: bool = False
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10_000_000)


class WorkOrderPage(_Out):
    """One page of work orders, oldest first."""

    total: NonNegativeInt
    offset: NonNegativeInt
    limit: NonNegativeInt
    items: list[WorkOrderOut]


class WriteDone(_Out):
    """A write the PBX accepted."""

    ok: Literal[True] = True
    message: str | None


__all__ = [
    "AgentOut",
    "AllStatus",
    "AnnouncementNow",
    "CallOut",
    "CallPage",
    "CallQuery",
    "DispositionIn",
    "DispositionOut",
    "ErrorBody",
    "FiguresOut",
    "Health",
    "KpiGroup",
    "KpiQuery",
    "KpiReport",
    "LiveCallOut",
    "PauseIn",
    "PbxEntry",
    "PbxStatus",
    "QueueOut",
    "TodayOut",
    "Totals",
    "WorkOrderOut",
    "WorkOrderPage",
    "WorkOrderQuery",
    "WorkOrderStateIn",
    "WriteDone",
    "call_of",
    "masked",
    "status_of",
    "work_order_of",
]
