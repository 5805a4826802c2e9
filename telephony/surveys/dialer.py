"""The survey dialer, the async shell: queues eligible contacts, claims due surveys, originates.

Theory of operation. The `survey` table decides what is due (storage.surveys); this shell only
wakes up every ``poll_s`` (or when a line frees up), claims at most ``max_concurrent`` minus the
calls in flight, and sends one ``Originate`` per claim through the link, no faster than
``pace_per_min``. Each attempt's row, with the ChannelId, is committed before its Originate is
sent. Events reach :meth:`SurveyDialer.observe` from the daemon's frame path (after the journal);
the pure :class:`~telephony.surveys.follow.Follower` turns them into facts, which one writer task
applies to the database in order.

Restart safety. On every (re)connection, before claiming anything, the dialer reconciles the
attempts the database says this owner has in flight: a call the PBX still has (``CoreShowChannels``
lists its Uniqueid) is followed again; one that ended is settled from the journal when the journal
holds its end; one the PBX and the journal never saw was not placed and goes back to the queue; one
that was placed but ended unseen is closed as ``lost`` (calling again could call a citizen who
already answered). Other owners' attempts whose heartbeat stopped long ago are closed as lost too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine

from storage import survey_dialing as dialing
from storage import surveys as store
from telephony.ami.actions import Originate
from telephony.ami.codec import Frame, FrameKind
from telephony.ami.connection import ActionError, ActionTimeout, AmiConnection, ConnectionLost
from telephony.calls.record import CallRecord
from telephony.privacy import mask_number
from telephony.surveys import callbacks as cb
from telephony.surveys.follow import Answered, Ended, Fact, Follower
from telephony.surveys.journal_scan import scan_journal
from telephony.surveys.policy import (
    AttemptOutcome,
    AttemptResult,
    Candidate,
    Next,
    SurveyRules,
    after_attempt,
    decide,
)
from telephony.surveys.settings import SurveySettings
from telephony.threads import WorkerThreads

log = logging.getLogger("hotline.surveys")
T = TypeVar("T")

FOLLOWED_EVENTS = frozenset({"OriginateResponse", "UserEvent", "Hangup", "Newstate"})


class Link(Protocol):
    """What the dialer needs of the AMI link (AmiLink)."""

    async def send(self, action: Originate, *, timeout: float | None = None) -> Frame:  # noqa: ASYNC109
        """Send a typed action."""
        ...

    async def send_list(self, name: str) -> tuple[Frame, list[Frame]]:
        """Send a list action."""
        ...

    async def wait_ready(self) -> AmiConnection:
        """Wait for a logged-in connection."""
        ...

    @property
    def connection(self) -> AmiConnection | None:
        """The ready connection, or None."""
        ...


class SurveyDialer:
    """Queues, claims, dials and follows callback surveys for one daemon (``owner``)."""

    def __init__(
        self,
        settings: SurveySettings,
        engine: Engine,
        link: Link,
        *,
        owner: str,
        journal_dir: Path | None = None,
        wall: Callable[[], float] = time.time,
        callbacks: cb.CallbackSettings | None = None,
    ) -> None:
        self.settings = settings
        self.rules = SurveyRules.from_settings(settings)
        # Callback requests (telephony/surveys/callbacks.py): same queue and claims, own rules.
        self.callbacks = callbacks if callbacks is not None and callbacks.enabled else None
        self.cb_rules = cb.callback_rules(callbacks or cb.CallbackSettings(), self.rules)
        self._kinds: dict[str, str] = {}  # ChannelId → kind, for the attempts in flight
        self.engine = engine
        self.link = link
        self.owner = owner
        self.journal_dir = journal_dir
        self.wall = wall
        self.follower = Follower()
        self.originated = 0
        self.finished: dict[str, int] = {}
        self._facts: asyncio.Queue[Fact] = asyncio.Queue()
        self._offers: asyncio.Queue[list[Any]] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._deadlines: dict[str, float] = {}
        self._last_originate = 0.0
        self._sent_before_drop: set[str] = set()
        self.reconciled = asyncio.Event()
        self._threads = WorkerThreads()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking storage call in a worker thread; :meth:`stop` waits for it to end."""
        return await self._threads.run(fn, *args)

    def now(self) -> datetime:
        """Wall time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.wall(), UTC)

    # --- inputs from the daemon --------------------------------------------------------------

    def offer(self, records: list[CallRecord]) -> None:
        """Finished contacts (from the pipeline); queued for eligibility off the event loop."""
        if records:
            self._offers.put_nowait(records)

    def observe(self, frame: Frame) -> None:
        """Every AMI frame after the journal; cheap unless it is about a call we follow."""
        if frame.kind is not FrameKind.EVENT or frame.name not in FOLLOWED_EVENTS:
            return
        if self.callbacks is not None and frame.name == "UserEvent":
            request = cb.request_of(self.owner, frame.headers)
            if request is not None:
                self._offers.put_nowait([request])
        if not self.follower.watches:
            return
        for fact in self.follower.feed(frame.name, frame.headers):
            self._facts.put_nowait(fact)

    def link_lost(self) -> None:
        """The AMI connection dropped: what was in flight must be checked after reconnecting."""
        self._sent_before_drop.update(self.follower.watches)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the dialer's tasks."""
        self._tasks = [
            asyncio.create_task(self._run(), name="survey-dialer"),
            asyncio.create_task(self._apply_facts(), name="survey-facts"),
            asyncio.create_task(self._take_offers(), name="survey-offers"),
        ]

    async def stop(self) -> None:
        """Stop; attempts in flight stay `dialing` in the database for the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # A cancelled await leaves its thread running: let it finish before the engine goes.
        await self._threads.wait()

    # --- offers ------------------------------------------------------------------------------

    async def _take_offers(self) -> None:
        while True:
            records: list[Any] = await self._offers.get()
            try:
                await self._db(self._enqueue, records)
            except Exception:
                log.exception("surveys: queueing %d contact(s) failed", len(records))

    def _enqueue(self, records: Iterable[CallRecord | cb.CallbackRequest]) -> dict[str, str]:
        now = self.now()
        candidates: list[Candidate] = []
        for record in records:
            if isinstance(record, cb.CallbackRequest):
                assert self.callbacks is not None
                decision = cb.decide_callback(
                    record, self.owner, self.cb_rules, self.callbacks, now
                )
            elif not self.settings.enabled:  # the dialer runs for callbacks only
                continue
            else:
                decision = decide(record, self.rules, now)
            if isinstance(decision, Candidate):
                candidates.append(decision)
            else:
                log.debug("survey: %s skipped: %s", decision.call_id, decision.reason)
        if not candidates:
            return {}
        fates = store.enqueue(
            self.engine, candidates, now=now, cooldown_since=self.rules.cooldown_since(now)
        )
        for call_id, fate in fates.items():
            log.debug("survey: %s: %s", call_id, fate)
        return fates

    # --- the dial loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self.link.wait_ready()
                await self._reconcile()
                await self._dial_while_ready()
            except asyncio.CancelledError:
                raise
            except ConnectionLost:
                self.link_lost()
                await asyncio.sleep(min(self.settings.poll_s, 1.0))
            except Exception:
                log.exception("survey dialer failed; retrying in %.0f s", self.settings.poll_s)
                await asyncio.sleep(self.settings.poll_s)

    async def _dial_while_ready(self) -> None:
        s = self.settings
        next_beat = 0.0
        while self.link.connection is not None:
            mono = time.monotonic()
            if mono >= next_beat:
                next_beat = mono + s.heartbeat_s
                await self._housekeeping()
            await self._check_deadlines()
            now = self.now()
            free = s.max_concurrent - len(self.follower)
            kinds = self._kinds_now(now)
            if free > 0 and kinds:
                claims = await self._db(
                    dialing.claim_due, self.engine, self.owner, now, free, kinds
                )
                for claim in claims:
                    await self._pace()
                    await self._dial(claim)
                if claims:
                    continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(s.poll_s):
                    await self._wake.wait()

    def _kinds_now(self, now: datetime) -> list[str]:
        """The kinds of job that may be dialled now (surveys and callbacks have own hours)."""
        kinds = []
        if self.settings.enabled and not self.rules.quiet(now):
            kinds.append(store.SURVEY_KIND)
        if self.callbacks is not None and not self.cb_rules.quiet(now):
            kinds.append(cb.KIND)
        return kinds

    async def _pace(self) -> None:
        gap = 60.0 / self.settings.pace_per_min
        wait = self._last_originate + gap - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_originate = time.monotonic()

    def _dial_string(self, number: str) -> str:
        return self.settings.channel.replace("{number}", number)

    async def _dial(self, claim: store.Claim) -> None:
        s = self.settings
        dial = self._dial_string(claim.number)
        self.follower.watch(claim.channel_id, dial)
        self._deadlines[claim.channel_id] = time.monotonic() + s.ring_timeout_s + s.max_call_s
        context, exten = s.context, s.exten
        variables = {
            **s.variables,
            "SURVEY_ID": str(claim.survey_id),
            "SURVEY_CHANNEL": claim.channel_id,
            "SURVEY_FOR": claim.call_id,
            "SURVEY_NUMBER": claim.number,
            "SURVEY_CAMPAIGN": s.campaign,
            "SURVEY_RATING_BY": s.rating_by,
        }
        self._kinds[claim.channel_id] = claim.kind
        if claim.kind == cb.KIND:
            settings = self.callbacks or cb.CallbackSettings()
            context, exten = settings.context, settings.exten
            variables = {
                "HOTLINE_CALLBACK_ID": str(claim.survey_id),
                "HOTLINE_CALLBACK_FOR": claim.call_id,
                "HOTLINE_QUEUE": claim.queue or settings.default_queue,
            }
        action = Originate(
            channel=dial,
            context=context,
            exten=exten,
            priority="1",
            timeout_ms=s.ring_timeout_s * 1000,
            caller_id=s.caller_id,
            variables=variables,
            channel_id=claim.channel_id,
        )
        log.info(
            "%s %d: calling %s (attempt %d, %s)",
            claim.kind,
            claim.survey_id,
            mask_number(claim.number),
            claim.attempt,
            claim.channel_id,
        )
        try:
            response = await self.link.send(action)
        except ActionError as exc:
            self.follower.forget(claim.channel_id)
            await self._finish(
                claim.channel_id, AttemptOutcome(AttemptResult.FAILED, note=str(exc))
            )
            return
        except (ActionTimeout, ConnectionLost) as exc:
            # Maybe sent, maybe not: the reconciliation after the next login decides.
            log.warning("survey %d: Originate unconfirmed (%s)", claim.survey_id, exc)
            self._sent_before_drop.add(claim.channel_id)
            return
        self.originated += 1
        action_id = response.action_id
        for fact in self.follower.set_action_id(claim.channel_id, action_id):
            self._facts.put_nowait(fact)
        await self._db(dialing.mark_sent, self.engine, claim.channel_id, action_id, self.now())

    # --- facts -------------------------------------------------------------------------------

    async def _apply_facts(self) -> None:
        while True:
            fact = await self._facts.get()
            try:
                if isinstance(fact, Answered):
                    await self._db(dialing.mark_answered, self.engine, fact.channel_id, self.now())
                elif isinstance(fact, Ended):
                    await self._finish(fact.channel_id, fact.outcome)
            except Exception:
                log.exception("survey: applying %r failed", fact)

    def _next(self, result: AttemptResult, attempts: int, now: datetime, expires: datetime) -> Next:
        return after_attempt(result, attempts, now, expires, self.rules)

    def _next_callback(
        self, result: AttemptResult, attempts: int, now: datetime, expires: datetime
    ) -> Next:
        return after_attempt(result, attempts, now, expires, self.cb_rules)

    async def _finish(self, channel_id: str, outcome: AttemptOutcome) -> None:
        self._deadlines.pop(channel_id, None)
        self._sent_before_drop.discard(channel_id)
        next_rule = self._next
        if self._kinds.pop(channel_id, store.SURVEY_KIND) == cb.KIND:
            outcome, next_rule = cb.callback_outcome(outcome), self._next_callback
        state = await self._db(
            dialing.finish_attempt, self.engine, channel_id, outcome, self.now(), next_rule
        )
        if state is not None:
            key = outcome.result.value
            self.finished[key] = self.finished.get(key, 0) + 1
            log.info(
                "survey attempt %s: %s%s → %s",
                channel_id,
                outcome.result.value,
                f" (rating {outcome.rating})" if outcome.rating is not None else "",
                state.value,
            )
        self._wake.set()

    # --- reconciliation ----------------------------------------------------------------------

    async def _live_uniqueids(self) -> set[str]:
        _, items = await self.link.send_list("CoreShowChannels")
        live: set[str] = set()
        for item in items:
            for key in ("Uniqueid", "Linkedid"):
                value = item.get(key)
                if value:
                    live.add(value)
        return live

    async def _reconcile(self) -> None:
        """Settle this owner's attempts in flight against the PBX and the journal."""
        flights = await self._db(dialing.in_flight, self.engine, self.owner)
        suspects = [
            c
            for c in flights
            if c.channel_id not in self.follower.watches or c.channel_id in self._sent_before_drop
        ]
        if suspects:
            live = await self._live_uniqueids()
            for claim in suspects:
                await self._settle(claim, live)
        self._sent_before_drop.clear()
        self.reconciled.set()

    async def _settle(self, claim: store.Claim, live: set[str]) -> None:
        watch = self.follower.watches.get(claim.channel_id)
        uids = watch.uniqueids if watch is not None else {claim.channel_id}
        self._kinds[claim.channel_id] = claim.kind
        if live & uids:
            if watch is None:
                watch = self.follower.watch(
                    claim.channel_id, self._dial_string(claim.number), adopted=True
                )
                watch.answered = claim.answered_at is not None
                watch.action_id = claim.action_id
            watch.adopted = True
            s = self.settings
            self._deadlines[claim.channel_id] = time.monotonic() + s.ring_timeout_s + s.max_call_s
            log.info("survey %d: call %s still up; following it", claim.survey_id, claim.channel_id)
            return
        if watch is not None:
            self.follower.forget(claim.channel_id)
            if watch.rating is not None or watch.answered:
                await self._finish(claim.channel_id, Follower.answered_outcome(watch))
                return
        outcome, seen = await self._db(self._from_journal, claim)
        if outcome is not None:
            await self._finish(claim.channel_id, outcome)
        elif seen or (watch is not None and watch.seen):
            await self._finish(
                claim.channel_id,
                AttemptOutcome(AttemptResult.LOST, note="ended while hotline was not watching"),
            )
        elif claim.sent_at is not None:
            await self._finish(
                claim.channel_id,
                AttemptOutcome(AttemptResult.LOST, note="accepted by the PBX, then never seen"),
            )
        else:
            await self._finish(claim.channel_id, AttemptOutcome(AttemptResult.NOT_SENT))

    def _from_journal(self, claim: store.Claim) -> tuple[AttemptOutcome | None, bool]:
        if self.journal_dir is None:
            return None, False
        since = claim.started_at - timedelta(seconds=60)
        return scan_journal(
            self.journal_dir,
            self.owner,
            since=since.timestamp(),
            channel_id=claim.channel_id,
            dial=self._dial_string(claim.number),
            action_id=claim.action_id,
        )

    async def _check_deadlines(self) -> None:
        now = time.monotonic()
        overdue = [cid for cid, at in self._deadlines.items() if at <= now]
        if not overdue:
            return
        live = await self._live_uniqueids()
        flights = {
            c.channel_id: c for c in await self._db(dialing.in_flight, self.engine, self.owner)
        }
        for cid in overdue:
            claim = flights.get(cid)
            if claim is None:
                self._deadlines.pop(cid, None)
                self.follower.forget(cid)
                continue
            await self._settle(claim, live)

    async def _housekeeping(self) -> None:
        now = self.now()
        s = self.settings
        await self._db(dialing.heartbeat, self.engine, self.owner, now)
        expired = await self._db(store.expire_due, self.engine, now)
        if expired:
            log.info("surveys: %d expired unreached", expired)
        stale = now - timedelta(seconds=s.stale_after_s)
        for cid in await self._db(dialing.orphaned, self.engine, self.owner, stale):
            log.warning("survey attempt %s: its daemon stopped beating; closed as lost", cid)
            await self._finish(
                cid, AttemptOutcome(AttemptResult.LOST, note="owner stopped heartbeating")
            )
