"""The report as text (a terminal), JSON (scripts) and CSV (spreadsheets, one long table).

Every format shows the same metrics, named once in `HEADLINE` (key, English, Chinese, unit). Ratios
are fractions in JSON and CSV (0.9362) and percentages in text; undefined ones are null / empty /
"—".
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telephony.reports.annual import Named, Report
from telephony.reports.kpi import Figures, WorkOrderTally, growth


@dataclass(frozen=True, slots=True)
class Metric:
    """One headline figure: its JSON/CSV key, labels, unit, and where its value comes from."""

    key: str
    en: str
    zh: str
    unit: str  # "count", "ratio", "seconds"
    value: Callable[[Figures, WorkOrderTally], float | int | None]


def _f(name: str) -> Callable[[Figures, WorkOrderTally], float | int | None]:
    def get(figures: Figures, _orders: WorkOrderTally) -> float | int | None:
        value: float | int | None = getattr(figures, name)
        return value

    return get


HEADLINE: tuple[Metric, ...] = (
    Metric("calls_received", "Calls received", "来电量", "count", _f("contacts")),
    Metric("contacts_handled", "Contacts handled", "受理量", "count", _f("answered")),
    Metric("on_spot", "Answered on the spot", "当场答复", "count", _f("on_spot")),
    Metric("on_spot_share", "On-spot share", "当场答复率", "ratio", _f("on_spot_share")),
    Metric("work_orders", "Work orders", "转办工单", "count", _f("work_orders")),
    Metric(
        "work_orders_created",
        "Work orders on record",
        "工单记录",
        "count",
        lambda _f, w: w.created,
    ),
    Metric(
        "completion_rate", "Completion rate", "办结率", "ratio", lambda _f, w: w.completion_rate
    ),
    Metric("on_time_rate", "Closed on time", "按时办结率", "ratio", lambda _f, w: w.on_time_rate),
    Metric("reopened", "Reopened", "重办", "count", lambda _f, w: w.reopened),
    Metric("callbacks", "Callbacks made", "回访量", "count", _f("callbacks")),
    Metric("callbacks_reached", "Callbacks reached", "回访接通", "count", _f("callbacks_reached")),
    Metric("reach_rate", "Callback reach rate", "回访接通率", "ratio", _f("reach_rate")),
    Metric("survey_answers", "Valid survey answers", "有效评价", "count", _f("survey_answers")),
    Metric("satisfaction_rate", "Satisfaction rate", "满意率", "ratio", _f("satisfaction_rate")),
    Metric("offered", "Offered to agents", "进入人工", "count", _f("offered")),
    Metric(
        "connection_rate", "24-h connection rate", "24小时接通率", "ratio", _f("connection_rate")
    ),
    Metric("service_level", "Answered within SL", "及时接通率", "ratio", _f("service_level")),
    Metric("abandoned", "Abandoned in queue", "排队放弃", "count", _f("abandoned")),
    Metric("abandonment_rate", "Abandonment rate", "呼损率", "ratio", _f("abandonment_rate")),
    Metric("no_agent", "Queue timeouts", "排队超时", "count", _f("no_agent")),
    Metric("asa_s", "ASA (mean wait)", "平均应答时长", "seconds", _f("asa_s")),
    Metric("aht_s", "AHT (mean talk)", "平均通话时长", "seconds", _f("aht_s")),
    Metric("self_service", "Self-service", "自助服务", "count", _f("self_service")),
    Metric("abandoned_ivr", "Left in the IVR", "语音导航放弃", "count", _f("abandoned_ivr")),
)


def headline(report: Report) -> list[tuple[Metric, float | int | None, float | int | None]]:
    """(metric, this period, previous period) for every headline figure."""
    return [
        (
            metric,
            metric.value(report.figures, report.work_orders),
            metric.value(report.previous, report.previous_work_orders),
        )
        for metric in HEADLINE
    ]


def change(metric: Metric, now: float | int | None, before: float | int | None) -> float | None:
    """Growth of a count (a fraction); the difference of a ratio in points (a fraction too)."""
    if now is None or before is None:
        return None
    if metric.unit == "count":
        return growth(now, before)
    return float(now) - float(before)


def fmt(value: float | int | None, unit: str) -> str:
    """A value as people read it: 157,000 / 93.62 % / 12.3 s / —."""
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    if unit == "seconds":
        return f"{value:.1f} s"
    return f"{int(value):,}"


def fmt_change(metric: Metric, value: float | None) -> str:
    """+26.0 % for counts, +1.20 pt for ratios, +0.5 s for times (never "-0.00")."""
    if value is None:
        return "—"
    if metric.unit == "count":
        return f"{_no_negative_zero(value * 100, 1):+.1f} %"
    if metric.unit == "ratio":
        return f"{_no_negative_zero(value * 100, 2):+.2f} pt"
    return f"{_no_negative_zero(value, 1):+.1f} s"


def _no_negative_zero(value: float, digits: int) -> float:
    rounded = round(value, digits)
    return rounded if rounded else 0.0


def last_day(report: Report) -> str:
    """The period's last day, inclusive."""
    return f"{report.period.end - timedelta(days=1):%Y-%m-%d}"


# --- text ------------------------------------------------------------------------------------


def to_text(report: Report) -> str:
    """A report for a terminal: headline with growth, hours, agents, queues, hot issues."""
    p, q = report.period, report.previous_period
    out = io.StringIO()
    scope = f", PBX {report.pbx}" if report.pbx else ", all PBXs"
    name = "" if p.kind == "days" else f"{p.label} "
    out.write(
        f"Hotline performance report {name}({p.start:%Y-%m-%d} to {last_day(report)}, "
        f"{p.start.tzinfo}{scope})\n"
        f"Compared with {q.label}; service level = answered within {report.service_level_s:g} s\n\n"
    )
    now_label = p.label if len(p.label) <= 14 else "this period"
    before_label = q.label if len(q.label) <= 14 else "previous"
    out.write(f"{'figure':<28}{'':<14}{now_label:>16}{before_label:>16}{'change':>12}\n")
    for metric, now, before in headline(report):
        out.write(
            f"{metric.en:<28}{metric.zh:<{14 - _wide(metric.zh)}}{fmt(now, metric.unit):>16}"
            f"{fmt(before, metric.unit):>16}{fmt_change(metric, change(metric, now, before)):>12}\n"
        )
    out.write("\nContacts by hour of day (local time)\n")
    peak = max((s.contacts for s in report.hourly), default=0) or 1
    for s in report.hourly:
        bar = "#" * round(30 * s.contacts / peak)
        out.write(f"  {s.label}:00 {s.contacts:>9,} {s.handled:>9,} handled  {bar}\n")
    out.write(f"\n{'By ' + ('month' if len(report.series[0].label) == 7 else 'day'):<12}")
    out.write(f"{'calls':>10}{'handled':>10}{'abandoned':>11}\n")
    for s in report.series:
        out.write(f"  {s.label:<10}{s.contacts:>10,}{s.handled:>10,}{s.abandoned:>11,}\n")
    out.write("\nAgents (contacts handled, AHT, on-spot share, satisfaction)\n")
    out.write(_named_text(report.agents))
    out.write("\nQueues\n")
    out.write(_named_text(report.queues))
    out.write(f"\nHot issues (top {len(report.hot_issues)} categories)\n")
    if not report.hot_issues:
        out.write("  no categories recorded\n")
    for n, issue in enumerate(report.hot_issues, 1):
        out.write(
            f"  {n:>2}. {issue.category:<{28 - _wide(issue.category)}}{issue.contacts:>9,}"
            f"{fmt(issue.share, 'ratio'):>10}   previous {issue.previous:>8,}"
            f"   {'new' if issue.change is None else f'{issue.change * 100:+.1f} %':>8}\n"
        )
    return out.getvalue()


def _wide(text: str) -> int:
    """Extra terminal columns taken by wide (CJK) characters."""
    return sum(1 for char in text if ord(char) >= 0x2E80)


def _named_text(rows: list[Named]) -> str:
    if not rows:
        return "  none recorded\n"
    out = io.StringIO()
    out.write(
        f"  {'name':<28}{'handled':>9}{'AHT':>9}{'ASA':>8}{'on spot':>10}{'answers':>9}"
        f"{'satisfied':>11}\n"
    )
    for row in rows:
        f = row.figures
        out.write(
            f"  {row.name:<{28 - _wide(row.name)}}{f.answered:>9,}{fmt(f.aht_s, 'seconds'):>9}"
            f"{fmt(f.asa_s, 'seconds'):>8}{fmt(f.on_spot_share, 'ratio'):>10}"
            f"{f.survey_answers:>9,}{fmt(f.satisfaction_rate, 'ratio'):>11}\n"
        )
    return out.getvalue()


# --- JSON --------------------------------------------------------------------------------------


def _named_json(row: Named) -> dict[str, Any]:
    f = row.figures
    return {
        "name": row.name,
        "contacts_handled": f.answered,
        "offered": f.offered,
        "aht_s": f.aht_s,
        "asa_s": f.asa_s,
        "on_spot": f.on_spot,
        "work_orders": f.work_orders,
        "on_spot_share": f.on_spot_share,
        "survey_answers": f.survey_answers,
        "satisfaction_rate": f.satisfaction_rate,
    }


def to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready values."""
    p, q = report.period, report.previous_period
    rows = headline(report)
    return {
        "period": {
            "label": p.label,
            "from": f"{p.start:%Y-%m-%d}",
            "to": last_day(report),
            "start": p.start.isoformat(),
            "end": p.end.isoformat(),
            "tz": str(p.start.tzinfo),
        },
        "previous_period": {
            "label": q.label,
            "start": q.start.isoformat(),
            "end": q.end.isoformat(),
        },
        "generated_at": report.generated_at.isoformat(),
        "service_level_s": report.service_level_s,
        "pbx": report.pbx,
        "figures": {metric.key: now for metric, now, _ in rows},
        "previous": {metric.key: before for metric, _, before in rows},
        "change": {metric.key: change(metric, now, before) for metric, now, before in rows},
        "outcomes": report.by_outcome,
        "hourly": [
            {
                "hour": int(s.label),
                "contacts": s.contacts,
                "handled": s.handled,
                "abandoned": s.abandoned,
            }
            for s in report.hourly
        ],
        "series": [
            {
                "label": s.label,
                "contacts": s.contacts,
                "handled": s.handled,
                "abandoned": s.abandoned,
            }
            for s in report.series
        ],
        "agents": [_named_json(row) for row in report.agents],
        "queues": [_named_json(row) for row in report.queues],
        "hot_issues": [
            {
                "category": issue.category,
                "contacts": issue.contacts,
                "share": issue.share,
                "previous": issue.previous,
                "change": issue.change,
            }
            for issue in report.hot_issues
        ],
    }


def to_json(report: Report) -> str:
    """The report as one JSON document."""
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2) + "\n"


# --- CSV ---------------------------------------------------------------------------------------

CSV_COLUMNS = ("section", "name", "metric", "value", "previous", "change")


def to_csv(report: Report) -> str:
    """One long table: section, name (hour, agent, category …), metric, value, previous, change."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def cell(value: float | int | None) -> str:
        return "" if value is None else str(value)

    for metric, now, before in headline(report):
        writer.writerow(
            ("headline", "", metric.key, cell(now), cell(before), cell(change(metric, now, before)))
        )
    for section, slices in (("hourly", report.hourly), ("series", report.series)):
        for s in slices:
            for name, value in (
                ("contacts", s.contacts),
                ("handled", s.handled),
                ("abandoned", s.abandoned),
            ):
                writer.writerow((section, s.label, name, value, "", ""))
    for section, rows in (("agent", report.agents), ("queue", report.queues)):
        for row in rows:
            for key, value in _named_json(row).items():
                if key != "name":
                    writer.writerow((section, row.name, key, cell(value), "", ""))
    for issue in report.hot_issues:
        writer.writerow(
            (
                "hot_issue",
                issue.category,
                "contacts",
                issue.contacts,
                issue.previous,
                cell(issue.change),
            )
        )
    for outcome, count in report.by_outcome.items():
        writer.writerow(("outcome", outcome, "contacts", count, "", ""))
    return out.getvalue()
