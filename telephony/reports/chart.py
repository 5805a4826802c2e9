"""The report's charts (matplotlib, no pyplot state): PNG or SVG files, or SVG text for the HTML.

Four panels: calls and handled contacts month by month (or day by day), the hourly distribution,
the service and satisfaction rates against the 90 % goal, and the hot issues now and before.
Labels are English (matplotlib's bundled font has no Chinese); category names in Chinese are
drawn with a CJK font when the machine has one.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from telephony.reports.render import fmt

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from telephony.reports.annual import Report

CHART_SUFFIXES = (".png", ".svg")
GOAL = 0.90
"""The city's goal for satisfaction (and a sensible line for the other rates)."""

_FONTS = ["DejaVu Sans", "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "SimHei"]


class ChartError(ValueError):
    """The chart cannot be written as asked (unknown file type)."""


def _figure(report: Report) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 8.5), layout="constrained")
    fig.suptitle(f"Hotline performance {report.period.label}", fontsize=14)
    axes = fig.subplots(2, 2)

    ax = axes[0][0]
    labels = [s.label[5:] for s in report.series]
    xs = range(len(report.series))
    ax.bar(xs, [s.contacts for s in report.series], color="#9ecae1", label="calls received")
    ax.bar(xs, [s.handled for s in report.series], color="#3182bd", label="handled", width=0.5)
    step = max(1, len(labels) // 12)
    ax.set_xticks(list(xs)[::step], labels[::step], fontsize=8)
    ax.set_title("Calls by " + ("month" if len(report.series[0].label) == 7 else "day"))
    ax.legend(fontsize=8)

    ax = axes[0][1]
    hours = range(24)
    ax.bar(hours, [s.contacts for s in report.hourly], color="#9ecae1", label="calls")
    ax.plot(hours, [s.handled for s in report.hourly], color="#08519c", label="handled")
    ax.set_xticks(list(range(0, 24, 3)))
    ax.set_title("Calls by hour of day (local)")
    ax.legend(fontsize=8)

    ax = axes[1][0]
    f, w = report.figures, report.work_orders
    rates = [
        ("connection", f.connection_rate),
        (f"within {report.service_level_s:g} s", f.service_level),
        ("on spot", f.on_spot_share),
        ("completion", w.completion_rate),
        ("on time", w.on_time_rate),
        ("satisfaction", f.satisfaction_rate),
    ]
    values = [0.0 if value is None else value * 100 for _, value in rates]
    bars = ax.barh([name for name, _ in rates], values, color="#31a354")
    for bar, (_, value) in zip(bars, rates, strict=True):
        ax.text(1, bar.get_y() + bar.get_height() / 2, fmt(value, "ratio"), va="center", fontsize=8)
    ax.axvline(GOAL * 100, color="#de2d26", linestyle="--", linewidth=1)
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.set_title("Rates, % (goal 90 %)")

    ax = axes[1][1]
    issues = report.hot_issues
    if issues:
        ys = range(len(issues))
        ax.barh([y + 0.2 for y in ys], [i.contacts for i in issues], 0.4, label=report.period.label)
        ax.barh(
            [y - 0.2 for y in ys],
            [i.previous for i in issues],
            0.4,
            label=report.previous_period.label,
            color="#bdbdbd",
        )
        ax.set_yticks(list(ys), [i.category for i in issues], fontsize=8)
        ax.invert_yaxis()
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no categories recorded", ha="center", va="center")
    ax.set_title("Hot issues: contacts by category")
    return fig


def _save(report: Report, target: Path | io.BytesIO, fmt_name: str) -> None:
    from matplotlib import rc_context

    with rc_context(
        {"font.family": "sans-serif", "font.sans-serif": _FONTS, "svg.hashsalt": "hotline"}
    ):
        fig = _figure(report)
        with warnings.catch_warnings():
            # Fonts absent from this machine and glyphs none of them has are not errors.
            warnings.filterwarnings("ignore", message=r"(?i).*(glyph|findfont|font family).*")
            fig.savefig(target, format=fmt_name, metadata=_metadata(fmt_name))


def _metadata(fmt_name: str) -> dict[str, str | None]:
    # No creation date: the same report gives the same file.
    return {"Date": None} if fmt_name == "svg" else {}


def write_chart(report: Report, path: Path) -> None:
    """Write the charts to `path`, PNG or SVG by its suffix."""
    suffix = path.suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ChartError(f"--chart {path}: give a .png or .svg file name")
    _save(report, path, suffix[1:])


def chart_svg(report: Report) -> str:
    """The charts as SVG text (for the HTML report)."""
    buffer = io.BytesIO()
    _save(report, buffer, "svg")
    text = buffer.getvalue().decode("utf-8")
    return text[text.index("<svg") :]
