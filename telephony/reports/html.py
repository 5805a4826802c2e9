"""The report as one printable HTML page (charts inline as SVG, no scripts, no external files),
Chinese and English labels, for a city office to attach to the evaluation report."""

from __future__ import annotations

from html import escape

from telephony.reports.annual import Named, Report
from telephony.reports.chart import chart_svg
from telephony.reports.render import change, fmt, fmt_change, headline, last_day

_STYLE = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.5em; text-align: right; }
th:first-child, td:first-child, td.name { text-align: left; }
thead th { background: #f0f4f8; }
.chart svg { width: 100%; height: auto; }
@media print { body { margin: 0; max-width: none; } h2 { page-break-after: avoid; }
  .chart { page-break-inside: avoid; } }
"""


def _named_table(rows: list[Named], what: str) -> str:
    if not rows:
        return f"<p>No {what} recorded.</p>"
    body = "".join(
        f"<tr><td class=name>{escape(row.name)}</td><td>{row.figures.answered:,}</td>"
        f"<td>{fmt(row.figures.aht_s, 'seconds')}</td><td>{fmt(row.figures.asa_s, 'seconds')}</td>"
        f"<td>{fmt(row.figures.on_spot_share, 'ratio')}</td><td>{row.figures.survey_answers:,}</td>"
        f"<td>{fmt(row.figures.satisfaction_rate, 'ratio')}</td></tr>"
        for row in rows
    )
    return (
        "<table><thead><tr><th>name 名称</th><th>handled 受理</th><th>AHT 平均通话</th>"
        "<th>ASA 平均应答</th><th>on spot 当场答复率</th><th>answers 有效评价</th>"
        f"<th>satisfied 满意率</th></tr></thead><tbody>{body}</tbody></table>"
    )


def to_html(report: Report) -> str:
    """A standalone, printable HTML document."""
    p, q = report.period, report.previous_period
    scope = f"PBX {escape(report.pbx)}" if report.pbx else "all PBXs 全部"
    rows = "".join(
        f"<tr><td>{escape(m.zh)} {escape(m.en)}</td><td>{fmt(now, m.unit)}</td>"
        f"<td>{fmt(before, m.unit)}</td><td>{fmt_change(m, change(m, now, before))}</td></tr>"
        for m, now, before in headline(report)
    )
    hours = "".join(
        f"<tr><td>{s.label}:00</td><td>{s.contacts:,}</td><td>{s.handled:,}</td>"
        f"<td>{s.abandoned:,}</td></tr>"
        for s in report.hourly
    )
    series = "".join(
        f"<tr><td>{s.label}</td><td>{s.contacts:,}</td><td>{s.handled:,}</td>"
        f"<td>{s.abandoned:,}</td></tr>"
        for s in report.series
    )
    issues = "".join(
        f"<tr><td>{n}</td><td class=name>{escape(i.category)}</td><td>{i.contacts:,}</td>"
        f"<td>{fmt(i.share, 'ratio')}</td><td>{i.previous:,}</td>"
        f"<td>{'new 新增' if i.change is None else f'{i.change * 100:+.1f} %'}</td></tr>"
        for n, i in enumerate(report.hot_issues, 1)
    )
    counts = "<tr><th>calls 来电</th><th>handled 受理</th><th>abandoned 放弃</th></tr>"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>12345 热线绩效报告 Hotline performance report {escape(p.label)}</title>
<style>{_STYLE}</style></head><body>
<h1>12345 热线绩效报告 · Hotline performance report {escape(p.label)}</h1>
<p class=meta>{p.start:%Y-%m-%d} to {last_day(report)} ({escape(str(p.start.tzinfo))}), {scope};
compared with 对比 {escape(q.label)}; service level 及时接通 = answered within
{report.service_level_s:g} s; generated 生成于 {report.generated_at:%Y-%m-%d %H:%M} UTC.</p>
<h2>主要指标 Headline figures</h2>
<table><thead><tr><th>figure 指标</th><th>{escape(p.label)}</th><th>{escape(q.label)}</th>
<th>change 同比</th></tr></thead><tbody>{rows}</tbody></table>
<div class=chart>{chart_svg(report)}</div>
<h2>热点问题 Hot issues</h2>
<table><thead><tr><th>#</th><th>category 类别</th><th>contacts 件数</th><th>share 占比</th>
<th>{escape(q.label)}</th><th>change 变化</th></tr></thead><tbody>{issues}</tbody></table>
<h2>话务员考评 Agents</h2>
{_named_table(report.agents, "agents")}
<h2>队列 Queues</h2>
{_named_table(report.queues, "queues")}
<h2>时段分布 Contacts by hour (local time)</h2>
<table><thead><tr><th>hour 时段</th>{counts[4:-5]}</tr></thead><tbody>{hours}</tbody></table>
<h2>{"逐月 By month" if p.days > 62 else "逐日 By day"}</h2>
<table><thead><tr><th>period 期间</th>{counts[4:-5]}</tr></thead><tbody>{series}</tbody></table>
</body></html>
"""
