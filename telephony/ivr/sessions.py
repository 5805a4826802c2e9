"""The IVR shell: one :class:`~telephony.ivr.engine.MenuSession` per AsyncAGI channel, over AMI.

:class:`IvrService` is fed every AMI event frame (``observe_frame``; it looks only at
``AsyncAGIStart``, ``AsyncAGIExec``, ``AsyncAGIEnd`` and ``Hangup``), starts a session when a
channel enters ``AGI(agi:async,MENU)`` for a menu it knows, and sends each command the engine
returns as an ``AGI`` action through the one sender (``AmiLink.send``). An action refused by the
PBX (the channel is gone) ends the session like a hang-up. A channel whose first argument names
no menu of ours is left alone (another feature may drive it; the dialplan's lease hands it to
the queue otherwise).

The heartbeat (:meth:`IvrService.heartbeat`) sets the global ``HOTLINE_HEARTBEAT`` to the epoch
seconds; the inbound dialplan hands a call to AsyncAGI only while that value is fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from telephony.ami import agi
from telephony.ami.actions import ActionSender, Setvar
from telephony.ami.codec import AmiError, Frame, FrameKind
from telephony.ivr.engine import MenuSession, Send
from telephony.ivr.menus import Menu

log = logging.getLogger("hotline.ivr")

HEARTBEAT_VAR = "HOTLINE_HEARTBEAT"
WATCHED = frozenset({"AsyncAGIStart", "AsyncAGIExec", "AsyncAGIEnd", "Hangup"})
"""The events this service reads."""

Announcements = Callable[[str], Mapping[str | None, Sequence[str]]]
"""Sounds to play now in a language: key None before every menu, a queue name before it."""
Finished = Callable[[agi.AgiStart, MenuSession], None]
"""Told once per session when it ends (route set, or the caller hung up)."""


@dataclass(slots=True)
class _Live:
    start: agi.AgiStart
    session: MenuSession
    started_at: float
    last_activity: float = 0.0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


@dataclass(slots=True)
class IvrStats:
    """Counters for the status page and tests."""

    started: int = 0
    finished: int = 0
    hangups: int = 0
    lost: int = 0  # AsyncAGI ended without our break (the lease ran out; the dialplan took over)
    agi_errors: int = 0
    send_failures: int = 0
    ignored: int = 0
    heartbeats: int = 0
    heartbeat_failures: int = 0
    started_by_menu: dict[str, int] = field(default_factory=dict)
    finished_by_route: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """Sessions ended, by (menu, route kind, reason), e.g. ("hotline", "queue", "key")."""


class IvrService:
    """Drives the configured menus on AsyncAGI channels (see the module docstring)."""

    def __init__(
        self,
        sender: ActionSender,
        menus: Mapping[str, Menu],
        *,
        default_menu: str | None = None,
        announcements: Announcements | None = None,
        on_finished: Finished | None = None,
        clock: Callable[[], float] = time.time,
        guard_s: float = 10.0,
        prompt_s: float = 60.0,
    ) -> None:
        self.sender = sender
        self.menus = dict(menus)
        self.default_menu = default_menu or (next(iter(self.menus)) if self.menus else None)
        self.announcements: Announcements = announcements or (lambda _language: {})
        self.on_finished = on_finished
        self.clock = clock
        self.guard_s = guard_s
        self.prompt_s = prompt_s
        self.sessions: dict[str, _Live] = {}
        self.stats = IvrStats()
        self._counter = 0
        # Command ids differ from a previous run's, so a late result of one is never ours.
        self._run_tag = f"{int(clock()) % 1_000_000:x}"

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- events ---------------------------------------------------------------------------------

    def observe_frame(self, frame: Frame) -> None:
        """Feed every AMI event frame; all but the AsyncAGI ones are skipped at once."""
        name = frame.name
        if name not in WATCHED or frame.kind is not FrameKind.EVENT:
            return
        try:
            if name == "AsyncAGIStart":
                self._on_start(frame)
            elif name == "AsyncAGIExec":
                self._on_exec(frame)
            else:
                reason = "caller" if name == "Hangup" else "agi-ended"
                self._on_end(frame.get("Channel") or "", reason)
        except agi.AgiError as exc:
            log.warning("ivr: frame #%d (%s): %s", frame.index, name, exc)

    def _menu_for(self, start: agi.AgiStart) -> Menu | None:
        args = start.args
        if not args:
            return self.menus.get(self.default_menu or "")
        return self.menus.get(args[0])

    def _on_start(self, frame: Frame) -> None:
        start = agi.start_from_headers(frame.headers)
        menu = self._menu_for(start)
        if menu is None:
            self.stats.ignored += 1
            log.debug("ivr: %s runs AsyncAGI %s, not one of our menus", start.channel, start.args)
            return
        if start.channel in self.sessions:
            self._finish(start.channel)
        self._counter += 1
        # The dialplan names the language (AGI(agi:async,MENU,LANGUAGE)); a channel's own
        # language is Asterisk's default 'en' on most trunks, so it is not a caller's choice.
        wanted = start.args[1] if len(start.args) > 1 else ""
        language = wanted if wanted in menu.languages else menu.language
        session = MenuSession(
            menu,
            session_id=f"ivr{self._run_tag}.{self._counter}",
            language=language,
            announcements=self._announcements(language),
            guard_s=self.guard_s,
            prompt_s=self.prompt_s,
        )
        live = _Live(start, session, self.clock(), self.clock())
        self.sessions[start.channel] = live
        self.stats.started += 1
        by_menu = self.stats.started_by_menu
        by_menu[menu.name] = by_menu.get(menu.name, 0) + 1
        log.info("ivr: %s entered menu %s", start.channel, menu.name)
        self._send(live, session.start(self._now()))

    def _announcements(self, language: str) -> Mapping[str | None, Sequence[str]]:
        try:
            return self.announcements(language)
        except Exception:  # an announcement store that fails must not block the menu
            log.exception("ivr: announcements unavailable; menu without them")
            return {}

    def _on_exec(self, frame: Frame) -> None:
        live = self.sessions.get(frame.get("Channel") or "")
        command_id = frame.get("CommandId") or frame.get("CommandID") or ""
        if live is None or not command_id:
            return
        live.last_activity = self.clock()
        result = agi.parse_result(frame.get("Result") or "")
        if not result.ok and not result.hung_up:
            self.stats.agi_errors += 1
            log.warning("ivr: %s: AGI error %d %s", live.start.channel, result.code, result.message)
        self._send(live, live.session.on_result(command_id, result, self._now()))
        if live.session.done:
            self._finish(live.start.channel)

    def _on_end(self, channel: str, reason: str) -> None:
        live = self.sessions.get(channel)
        if live is None:
            return
        live.session.on_hangup(reason)
        self._finish(channel)

    def _finish(self, channel: str) -> None:
        live = self.sessions.pop(channel, None)
        if live is None:
            return
        self.stats.finished += 1
        route = live.session.route
        if route is not None and route.reason == "caller":
            self.stats.hangups += 1
        elif route is not None and route.reason == "agi-ended":
            self.stats.lost += 1
        key = (
            live.session.menu.name,
            route.kind.value if route else "none",
            route.reason if route else "",
        )
        by_route = self.stats.finished_by_route
        by_route[key] = by_route.get(key, 0) + 1
        log.info(
            "ivr: %s left menu %s: %s %s path %s",
            channel,
            live.session.menu.name,
            route.kind.value if route else "-",
            (route.queue or route.result) if route else "",
            "/".join(live.session.path) or "-",
        )
        if self.on_finished is not None:
            try:
                self.on_finished(live.start, live.session)
            except Exception:
                log.exception("ivr: on_finished failed for %s", channel)

    # -- sending --------------------------------------------------------------------------------

    def _send(self, live: _Live, sends: list[Send]) -> None:
        if not sends:
            return
        task = asyncio.get_running_loop().create_task(self._send_batch(live, sends))
        live.tasks.add(task)
        task.add_done_callback(live.tasks.discard)

    async def _send_batch(self, live: _Live, sends: list[Send]) -> None:
        """Send in order (each AGI action is answered at once; the command runs later)."""
        for send in sends:
            if not await self._send_one(live, send):
                return

    async def _send_one(self, live: _Live, send: Send) -> bool:
        action = send.command.action(live.start.channel, send.command_id)
        try:
            await self.sender.send(action)
            return True
        except AmiError as exc:
            # "Channel … does not exist": the caller is gone; or the link dropped (the lease
            # hands the caller to the queue, a new session starts if AGI is re-entered).
            self.stats.send_failures += 1
            log.info("ivr: %s: %s not sent: %s", live.start.channel, send.command.verb, exc)
            if self.sessions.get(live.start.channel) is live:
                live.session.on_hangup()
                self._finish(live.start.channel)
            return False

    def sweep(self) -> int:
        """End sessions that heard nothing for longer than any lease (a result lost while the
        link was down: the PBX has long handed that caller to the queue). How many ended."""
        limit = self.guard_s + self.prompt_s + 60.0
        now = self.clock()
        stale = [ch for ch, live in self.sessions.items() if now - live.last_activity > limit]
        for channel in stale:
            self.sessions[channel].session.on_hangup("stale")
            self._finish(channel)
        return len(stale)

    # -- heartbeat ------------------------------------------------------------------------------

    async def beat(self) -> None:
        """Set the global heartbeat variable once (AmiError when the PBX is not reachable)."""
        await self.sender.send(Setvar(HEARTBEAT_VAR, str(int(self.clock()))))
        self.stats.heartbeats += 1

    async def heartbeat(self, interval_s: float) -> None:
        """Beat every ``interval_s`` until cancelled; a failed beat is retried after 0.5 s."""
        while True:
            try:
                await self.beat()
            except AmiError as exc:
                self.stats.heartbeat_failures += 1
                # Not connected yet (or any more): retry soon, so the first beat after a
                # (re)connect lands within half a second and callers get the menu again.
                log.debug("ivr: heartbeat not sent: %s", exc)
                await asyncio.sleep(min(interval_s, 0.5))
                continue
            if swept := self.sweep():
                log.info("ivr: %d session(s) without news dropped", swept)
            await asyncio.sleep(interval_s)

    async def close(self) -> None:
        """Wait briefly for commands in flight."""
        tasks = {t for live in self.sessions.values() for t in live.tasks}
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(tasks, timeout=2)
