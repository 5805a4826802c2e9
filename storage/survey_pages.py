"""Surveys for the supervisor API: filtered pages with a total, and the follow-up list.

The survey table (:mod:`storage.surveys`, the queue the dialer works from) is only read here.
Windows are half-open on ``contact_ended_at`` (when the contact the survey asks about ended);
pages are newest contact first. A follow-up is a survey whose answer was dissatisfied
(``follow_up``): it comes with its contact's work order, if any, so a supervisor sees whether it
was reopened since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, select, true
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import mask_url
from storage.errors import StorageError, db_reason
from storage.surveys import SURVEY
from storage.workorders import WORK_ORDERS

SURVEY_FIELDS = (
    "id",
    "call_id",
    "pbx",
    "number",
    "agent",
    "queue",
    "contact_ended_at",
    "state",
    "attempts",
    "rating",
    "follow_up",
    "last_result",
    "due_at",
    "finished_at",
)


@dataclass(frozen=True, slots=True)
class SurveyFilter:
    """Which surveys: a window on ``contact_ended_at`` (aware bounds) and equality filters."""

    start: datetime | None = None
    end: datetime | None = None
    state: str | None = None
    pbx: str | None = None
    queue: str | None = None
    agent: str | None = None
    rating: int | None = None
    follow_up: bool | None = None

    def where(self) -> ColumnElement[Any]:
        """The SQL condition."""
        for name, bound in (("start", self.start), ("end", self.end)):
            if bound is not None and bound.utcoffset() is None:
                raise ValueError(f"survey filter: {name} must be timezone-aware")
        conditions: list[ColumnElement[Any]] = []
        if self.start is not None:
            conditions.append(SURVEY.c.contact_ended_at >= self.start)
        if self.end is not None:
            conditions.append(SURVEY.c.contact_ended_at < self.end)
        for column in ("state", "pbx", "queue", "agent", "rating", "follow_up"):
            value = getattr(self, column)
            if value is not None:
                conditions.append(SURVEY.c[column] == value)
        return and_(true(), *conditions)


def page_surveys(
    engine: Engine, where: SurveyFilter, *, limit: int, offset: int, with_work_orders: bool = False
) -> tuple[int, list[dict[str, Any]]]:
    """How many surveys match, and the `limit` of them after `offset` (newest contact first) as
    dicts of :data:`SURVEY_FIELDS`; with `with_work_orders`, each also with its contact's work
    order (``work_order_id``, ``work_order_state``, ``work_order_reopened``; None without one)."""
    condition = where.where()
    count = select(func.count()).select_from(SURVEY).where(condition)
    columns: list[ColumnElement[Any]] = [SURVEY.c[name] for name in SURVEY_FIELDS]
    source: Any = SURVEY
    if with_work_orders:
        columns += [
            WORK_ORDERS.c.work_order_id,
            WORK_ORDERS.c.state.label("work_order_state"),
            WORK_ORDERS.c.reopened.label("work_order_reopened"),
        ]
        source = SURVEY.outerjoin(WORK_ORDERS, WORK_ORDERS.c.call_id == SURVEY.c.call_id)
    query = (
        select(*columns)
        .select_from(source)
        .where(condition)
        .order_by(SURVEY.c.contact_ended_at.desc(), SURVEY.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    try:
        with engine.connect() as connection:
            total = int(connection.execute(count).scalar_one())
            rows = [dict(row) for row in connection.execute(query).mappings()]
    except SQLAlchemyError as exc:
        raise StorageError(
            f"reading surveys from {mask_url(engine.url)}: {db_reason(exc)}"
        ) from exc
    return total, rows


__all__ = ["SURVEY_FIELDS", "SurveyFilter", "page_surveys"]
