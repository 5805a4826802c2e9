"""LiveView: calls in IVR / waiting / talking derived from the tracker while a real call runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from telephony.ami.codec import AmiCodec, Frame
from telephony.ami.connection import AmiParams
from telephony.ami.link import AmiLink, LinkState
from telephony.calls.clock import StreamClock
from telephony.calls.live import QUEUE_MEMBER_EVENTS, AgentState, CallState, LiveSnapshot, LiveView
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.health import Health, HealthStatus, WriterHealth
from telephony.pipeline import Pipeline
from tests.paths import CAPTURES


def frames_of(name: str) -> list[Frame]:
    codec = AmiCodec()
    codec.receive_data((CAPTURES / name).read_bytes())
    codec.receive_data(b"")
    return list(iter(codec.next_frame, None))


def build(zone: str = "UTC") -> tuple[Pipeline, LiveView, list[CallRecord]]:
    records: list[CallRecord] = []
    tracker = CallTracker(TrackerConfig(pbx="pbx1"))
    clock = StreamClock("UTC")
    link = AmiLink(AmiParams(host="127.0.0.1", port=1, username="hotline", secret="s"))
    live = LiveView(
        tracker,
        pbx="pbx1",
        tz=ZoneInfo(zone),
        service_level_s=15,
        clock=lambda: clock.now or 0.0,
        health=lambda: Health(ami=link.snapshot(ZoneInfo(zone)), database=WriterHealth(ok=True)),
    )

    def sink(done: list[CallRecord]) -> None:
        records.extend(done)
        live.records_finished(done)

    pipeline = Pipeline(
        tracker, clock, sink, observers=[live.observe], observe_only=QUEUE_MEMBER_EVENTS
    )
    return pipeline, live, records


def states_through(name: str) -> list[tuple[str, ...]]:
    """The sequence of distinct (state per live call) seen while replaying a capture."""
    pipeline, live, _ = build()
    seen: list[tuple[str, ...]] = []
    for frame in frames_of(name):
        pipeline.feed(frame)
        now = tuple(c.state.value for c in live.snapshot().calls)
        if not seen or seen[-1] != now:
            seen.append(now)
    return seen


def test_answered_call_goes_ivr_waiting_talking_then_gone() -> None:
    assert states_through("01_answered.main.raw") == [(), ("ivr",), ("waiting",), ("talking",), ()]


def test_abandoned_call_never_talks() -> None:
    assert states_through("02_abandon_in_queue.main.raw") == [(), ("ivr",), ("waiting",), ()]


def test_snapshot_keeps_the_number_and_counts_today_through_the_kpi_module() -> None:
    pipeline, live, records = build()
    snap: LiveSnapshot | None = None
    for frame in frames_of("01_answered.main.raw"):
        pipeline.feed(frame)
        if frame.name == "AgentConnect":
            snap = live.snapshot()
    assert snap is not None
    (call,) = snap.calls
    assert call.caller == "79160000001"  # unmasked here: the API masks per token
    assert call.state is CallState.TALKING
    assert call.queue == "hotline"
    assert call.agent == "Agent 8001 Ivanova"
    assert snap.totals == {CallState.IVR: 0, CallState.WAITING: 0, CallState.TALKING: 1}
    today = live.snapshot().today
    assert len(records) == 1
    figures = today.figures
    assert (figures.contacts, figures.offered, figures.answered) == (1, 1, 1)
    assert today.by_outcome == {"answered": 1}
    assert figures.service_level == 1.0  # HoldTime 2 s <= 15 s
    assert figures.asa_s == 2.0
    assert figures.aht_s == 7.0
    started = records[0].started_at
    assert started is not None
    assert today.contacts_by_hour[started.hour] == 1
    assert sum(today.contacts_by_hour) == 1


def test_queue_members_from_the_resync_list_of_a_real_pbx() -> None:
    pipeline, live, _ = build()
    for frame in frames_of("08_resync_login_midcall.resync.raw"):
        pipeline.feed(frame)
    snap = live.snapshot()
    agents = {a.interface: a for a in snap.agents}
    assert "Local/8001@agents/n" in agents
    assert agents["Local/8101@agents/n"].queues == ("hotline-utilities",)
    assert all(isinstance(a.state, AgentState) for a in agents.values())
    queues = {q.name: q for q in snap.queues}
    assert set(queues) >= {"hotline", "hotline-utilities"}
    assert queues["hotline"].members == 4


def test_live_times_are_in_the_view_zone() -> None:
    """Status shows one zone: a call's `since` is in the same zone as the snapshot's `now`."""
    pipeline, live, _ = build("Asia/Shanghai")
    snap: LiveSnapshot | None = None
    for frame in frames_of("01_answered.main.raw"):
        pipeline.feed(frame)
        if frame.name == "AgentConnect":
            snap = live.snapshot()
    assert snap is not None
    (call,) = snap.calls
    assert call.since is not None
    assert call.since.utcoffset() == snap.now.utcoffset() == timedelta(hours=8)
    assert snap.link.since.utcoffset() == timedelta(hours=8)  # the link too


def test_health_status_is_derived_from_the_parts() -> None:
    _, live, _ = build()
    health = live.health()
    assert health.ami.state is LinkState.DISCONNECTED  # never started
    assert health.status is HealthStatus.DEGRADED  # records still reach the database
    assert replace(health, database=WriterHealth(ok=False)).status is HealthStatus.DOWN
    ready = replace(health.ami, state=LinkState.READY)
    assert replace(health, ami=ready).status is HealthStatus.OK
    assert live.snapshot().link.since == health.ami.since  # the same link, the same zone


async def test_a_snapshot_built_a_chunk_at_a_time_is_the_snapshot_built_at_once() -> None:
    pipeline, live, _ = build()
    compared = 0
    for frame in frames_of("06_burst_20.main.raw"):
        pipeline.feed(frame)
        whole = live.snapshot()
        if len(whole.calls) < 5:
            continue
        # Three contacts per turn of the loop: several turns, nothing fed in between.
        built = await live.snapshot_async(chunk=3)
        assert replace(built, link=whole.link) == whole  # the link's age moves on meanwhile
        compared += 1
    assert compared > 100  # the burst keeps five or more calls open for a good while


def test_a_snapshot_without_calls_has_the_same_counts_queues_and_day() -> None:
    pipeline, live, _ = build()
    checked = 0
    for frame in frames_of("06_burst_20.main.raw"):
        pipeline.feed(frame)
        whole = live.snapshot()
        summary = live.snapshot(with_calls=False)
        assert summary.calls == ()
        assert replace(summary, link=whole.link) == replace(whole, calls=())
        checked += bool(whole.calls)
    assert checked > 0
