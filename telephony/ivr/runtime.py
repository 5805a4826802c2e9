"""The IVR inside the daemon: menus from ``[ivr]``, the session service, the heartbeat and the
announcement cache (refreshed from the database off the event loop).

The composition root builds one :class:`IvrRuntime` (or none when ``[ivr] enabled`` is false),
feeds it every frame, and starts/stops it with the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from telephony.ami.actions import ActionSender
from telephony.ami.codec import Frame
from telephony.config import ConfigError
from telephony.ivr.announcements import sounds_for
from telephony.ivr.menus import MenuError, load_menus
from telephony.ivr.sessions import IvrService
from telephony.ivr.settings import IvrSettings
from telephony.threads import WorkerThreads

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("hotline.ivr")


def check_ivr(settings: IvrSettings) -> list[str]:
    """``hotline check-config``: problems of the menus ``[ivr]`` points at (none if disabled)."""
    if not settings.enabled:
        return []
    from telephony.ivr.prompts import PromptError, load_scripts, missing_prompts

    try:
        menus = load_menus([settings.menus])
    except MenuError as exc:
        return [f"config [ivr].menus: {exc}"]
    problems: list[str] = []
    if settings.default_menu not in menus:
        problems.append(
            f"config [ivr].default_menu: {settings.default_menu!r} is not a menu in "
            f"{settings.menus} ({', '.join(sorted(menus))})"
        )
    scripts_path = settings.menus / "prompts.toml" if settings.menus.is_dir() else None
    if scripts_path is not None and scripts_path.exists():
        try:
            scripts = load_scripts(scripts_path)
        except PromptError as exc:
            return [*problems, f"config [ivr].menus: {exc}"]
        problems += [f"config [ivr].menus: {p}" for p in missing_prompts(menus.values(), scripts)]
    return problems


class IvrRuntime:
    """Menus, sessions, heartbeat and announcements of one daemon."""

    def __init__(
        self,
        settings: IvrSettings,
        sender: ActionSender,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            menus = load_menus([settings.menus])
        except MenuError as exc:
            raise ConfigError([f"config [ivr].menus: {exc}"]) from exc
        if settings.default_menu not in menus:
            raise ConfigError([f"config [ivr].default_menu: {settings.default_menu!r} unknown"])
        self.settings = settings
        self.clock = clock
        self.notices: list[Any] = []
        self.service = IvrService(
            sender,
            menus,
            default_menu=settings.default_menu,
            announcements=self._sounds,
            clock=clock,
            guard_s=settings.guard_s,
            prompt_s=settings.prompt_s,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._threads = WorkerThreads()  # the announcements' reads, waited for by stop()
        self._reread = asyncio.Event()

    def reload_menus(self) -> bool:
        """Re-read the menus (SIGHUP); a broken file keeps the running menus. Sessions already
        in a menu finish with the menu they started with."""
        try:
            menus = load_menus([self.settings.menus])
        except MenuError as exc:
            log.error("ivr: menus not reloaded, keeping the running ones: %s", exc)
            return False
        if self.settings.default_menu not in menus:
            log.error("ivr: menus not reloaded: no menu %r", self.settings.default_menu)
            return False
        self.service.menus = dict(menus)
        log.info("ivr: menus reloaded: %s", ", ".join(sorted(menus)))
        return True

    def observe_frame(self, frame: Frame) -> None:
        """Every frame the link delivers."""
        self.service.observe_frame(frame)

    def _sounds(self, language: str) -> Mapping[str | None, Sequence[str]]:
        return sounds_for(self.notices, language, datetime.fromtimestamp(self.clock(), UTC))

    async def start(self, engine: Engine | None) -> None:
        """Start the heartbeat and, with a database, the announcement refresh."""
        loop = asyncio.get_running_loop()
        self._tasks.append(
            loop.create_task(
                self.service.heartbeat(self.settings.heartbeat_interval_s), name="ivr-heartbeat"
            )
        )
        if engine is not None:
            self._tasks.append(loop.create_task(self._refresh(engine), name="ivr-announcements"))
        log.info(
            "ivr: driving menus %s (default %s), heartbeat every %g s",
            ", ".join(sorted(self.service.menus)),
            self.settings.default_menu,
            self.settings.heartbeat_interval_s,
        )

    async def _refresh(self, engine: Engine) -> None:
        from storage.announcements import list_announcements
        from storage.errors import StorageError

        while True:
            self._reread.clear()
            try:
                self.notices = await self._threads.run(
                    partial(list_announcements, engine, include_expired=False)
                )
            except StorageError as exc:
                log.warning("ivr: announcements not refreshed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reread.wait(), self.settings.announcements_refresh_s)

    def announcements_changed(self) -> None:
        """Read the announcements again now (the API added or removed one), not at the next
        refresh: callers hear a new one from the next call on."""
        self._reread.set()

    async def stop(self) -> None:
        """Stop the background tasks; wait briefly for commands in flight."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self._threads.wait()
        await self.service.close()
