"""``/metrics``: the daemon's live state in the Prometheus text format, through prometheus-client.

One :class:`LiveCollector` reads the source's health and live snapshot at scrape time (no
counters kept here, so nothing can drift from ``/api/status``); other parts of the daemon can add
their own collectors to the same registry (:func:`registry_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from telephony.calls.live import AgentState, CallState, LiveSnapshot
from telephony.health import Health, HealthStatus

if TYPE_CHECKING:
    from telephony.ivr.sessions import IvrService

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST


class LiveCollector(Collector):
    """The ``hotline_*`` families, derived from ``health()`` and ``snapshot()`` at each scrape."""

    def __init__(self, health: Callable[[], Health], snapshot: Callable[[], LiveSnapshot]) -> None:
        self._health = health
        self._snapshot = snapshot

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the families are built at collect time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One scrape."""
        health = self._health()
        yield from self._health_families(health)
        yield from self._live_families(self._snapshot())

    @staticmethod
    def _health_families(health: Health) -> Iterator[Metric]:
        status = GaugeMetricFamily(
            "hotline_health_status",
            "1 for the daemon's current health status (ok, degraded, down).",
            labels=["status"],
        )
        for state in HealthStatus:
            status.add_metric([state.value], float(health.status is state))
        yield status
        yield GaugeMetricFamily(
            "hotline_ami_link_up",
            "1 when the AMI link to the PBX is logged in and ready.",
            value=float(health.ami.ready),
        )
        yield CounterMetricFamily(
            "hotline_ami_reconnects",
            "AMI reconnections since the daemon started.",
            value=health.ami.reconnects,
        )
        yield GaugeMetricFamily(
            "hotline_db_up",
            "1 when call records are being written to the database.",
            value=float(health.database.ok),
        )
        yield GaugeMetricFamily(
            "hotline_db_pending_records",
            "Call records waiting to be written.",
            value=health.database.pending,
        )
        yield CounterMetricFamily(
            "hotline_db_written_records",
            "Call records written since the daemon started.",
            value=health.database.written,
        )

    @staticmethod
    def _live_families(snap: LiveSnapshot) -> Iterator[Metric]:
        live = GaugeMetricFamily(
            "hotline_calls_live",
            "Calls in progress by state (ivr, waiting in a queue, talking to an agent).",
            labels=["state"],
        )
        for state in CallState:
            live.add_metric([state.value], float(snap.totals.get(state, 0)))
        yield live
        per_queue = {
            "waiting": ("hotline_queue_waiting", "Callers waiting in the queue."),
            "longest_wait_s": (
                "hotline_queue_longest_wait_seconds",
                "Wait so far of the longest-waiting caller in the queue.",
            ),
            "members": ("hotline_queue_members", "Agents that are members of the queue."),
            "available": (
                "hotline_queue_members_available",
                "Members of the queue that are available to take a call.",
            ),
        }
        for attr, (name, help_text) in per_queue.items():
            family = GaugeMetricFamily(name, help_text, labels=["queue"])
            for queue in snap.queues:
                family.add_metric([queue.name], float(getattr(queue, attr)))
            yield family
        agents = GaugeMetricFamily("hotline_agents", "Agents by state.", labels=["state"])
        counts = dict.fromkeys(AgentState, 0)
        for agent in snap.agents:
            counts[agent.state] += 1
        for agent_state, n in counts.items():
            agents.add_metric([agent_state.value], float(n))
        yield agents
        today = snap.today
        outcomes = GaugeMetricFamily(
            "hotline_today_calls",
            "Citizen contacts finished today (reporting time zone) by outcome; resets at midnight.",
            labels=["outcome"],
        )
        for outcome, n in sorted(today.by_outcome.items()):
            outcomes.add_metric([outcome], float(n))
        yield outcomes
        figures = today.figures
        ratios: Sequence[tuple[str, str, float | None]] = (
            (
                "hotline_today_service_level_ratio",
                "Today's contacts answered within the service-level threshold / offered.",
                figures.service_level,
            ),
            (
                "hotline_today_abandonment_ratio",
                "Today's contacts that left the queue before an answer / offered.",
                figures.abandonment_rate,
            ),
            ("hotline_today_asa_seconds", "Today's average speed of answer.", figures.asa_s),
            ("hotline_today_aht_seconds", "Today's average handling time.", figures.aht_s),
            (
                "hotline_today_satisfaction_ratio",
                "Today's satisfied + basically satisfied / valid survey answers.",
                figures.satisfaction_rate,
            ),
        )
        for name, help_text, value in ratios:
            if value is not None:
                yield GaugeMetricFamily(name, help_text, value=value)


class IvrCollector(Collector):
    """``hotline_ivr_*``: the IVR service's own counters (sessions by menu and route, heartbeat
    failures, AGI errors), read from its :class:`~telephony.ivr.sessions.IvrStats` when scraped."""

    def __init__(self, service: IvrService) -> None:
        self._service = service

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the families are built at collect time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One scrape."""
        stats = self._service.stats
        started = CounterMetricFamily(
            "hotline_ivr_sessions_started",
            "IVR sessions started since the daemon started, by menu.",
            labels=["menu"],
        )
        for menu, n in sorted(stats.started_by_menu.items()):
            started.add_metric([menu], float(n))
        yield started
        finished = CounterMetricFamily(
            "hotline_ivr_sessions_finished",
            "IVR sessions ended, by menu, route (queue, selfservice, callback, result, hangup) "
            "and reason (key, timeout, caller, agi-ended, …).",
            labels=["menu", "route", "reason"],
        )
        for (menu, route, reason), n in sorted(stats.finished_by_route.items()):
            finished.add_metric([menu, route, reason], float(n))
        yield finished
        yield GaugeMetricFamily(
            "hotline_ivr_sessions_active",
            "Callers in an IVR menu driven by this daemon now.",
            value=float(len(self._service.sessions)),
        )
        counters = (
            ("hotline_ivr_heartbeats", "Heartbeats set on the PBX.", stats.heartbeats),
            (
                "hotline_ivr_heartbeat_failures",
                "Heartbeats the PBX did not take (link down or not ready); the dialplan skips "
                "the menu while the heartbeat is stale.",
                stats.heartbeat_failures,
            ),
            (
                "hotline_ivr_agi_errors",
                "AGI commands the PBX answered with an error.",
                stats.agi_errors,
            ),
            (
                "hotline_ivr_send_failures",
                "AGI actions that could not be sent (the channel was gone or the link dropped).",
                stats.send_failures,
            ),
        )
        for name, help_text, value in counters:
            yield CounterMetricFamily(name, help_text, value=float(value))


def registry_for(
    health: Callable[[], Health],
    snapshot: Callable[[], LiveSnapshot],
    extra: Sequence[Collector] = (),
) -> CollectorRegistry:
    """A registry of its own (never the process-global one) with the live collector and `extra`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(health, snapshot))
    for collector in extra:
        registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text exposition of one scrape."""
    return generate_latest(registry)


__all__ = ["CONTENT_TYPE", "IvrCollector", "LiveCollector", "exposition", "registry_for"]
