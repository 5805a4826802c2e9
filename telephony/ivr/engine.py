"""The menu engine: one caller's walk through a :class:`~telephony.ivr.menus.Menu`, pure.

Theory of operation
-------------------
A :class:`MenuSession` is a state machine per AsyncAGI channel. It never waits and never reads a
clock: :meth:`MenuSession.start` and :meth:`MenuSession.on_result` take the time (an aware
``datetime``, for business calendars) and return the next AGI commands to send as a :class:`Send`
(``command_id`` + :class:`~telephony.ami.agi.AgiCommand`); exactly one command is tracked at a time
(leases and variables ride along with it), so results cannot be confused.
:meth:`MenuSession.on_hangup` ends it.

What the caller hears, in order: the announcements for everyone, then per node its prompts — all
but the last with ``STREAM FILE`` interruptible by any key, the last with ``GET DATA`` (one digit,
the node's timeout). A key looks up the node's action (the operator key works everywhere); no key
or an unknown key plays the node's timeout / invalid prompt and the node again, and after
``retries`` more tries the caller goes to the operator queue. A route that ends the menu sets
``HOTLINE_ROUTE``, ``HOTLINE_QUEUE``, ``HOTLINE_QUEUE_PRIORITY``, ``HOTLINE_RESULT``,
``HOTLINE_LANGUAGE`` and ``HOTLINE_IVR_PATH`` (the keys pressed, ``/``-joined; the tracker puts it
on the call record), clears the lease and sends ``ASYNCAGI BREAK``: the dialplan continues to the
queue (or plays the self-service information, or hangs up).

The lease is how a caller is never stranded if hotline dies mid-menu: before every sound the
engine sets ``TIMEOUT(absolute)`` to ``prompt_s`` (the longest prompt) plus the key timeout plus
``guard_s``; if no command comes, the PBX's absolute timeout fires, AGI returns and the
dialplan's ``T`` extension sends the caller to the default queue. The dialplan sets a short
first lease before ``AGI(agi:async)``, so a session the daemon never picks up falls through the
same way.

An AGI error (code 5xx) on any command sends the caller to the operator queue; a hang-up
(``result=-1``, code 511, or :meth:`on_hangup`) ends the session with route ``hangup``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum

from telephony.ami import agi
from telephony.ami.agi import AgiCommand, AgiResult
from telephony.ivr.menus import Action, ActionKind, Menu, Node

ROUTE_VARS = (
    "HOTLINE_ROUTE",
    "HOTLINE_QUEUE",
    "HOTLINE_QUEUE_PRIORITY",
    "HOTLINE_RESULT",
    "HOTLINE_LANGUAGE",
    "HOTLINE_IVR_PATH",
)
"""The channel variables a finished menu sets (the dialplan reads them after the break)."""

LEASE_VAR = "TIMEOUT(absolute)"
PATH_TIMEOUT = "timeout"
PATH_INVALID = "invalid"


class RouteKind(StrEnum):
    """Where the caller goes after the menu (``HOTLINE_ROUTE``)."""

    QUEUE = "queue"
    SELF_SERVICE = "selfservice"
    CALLBACK = "callback"
    HANGUP = "hangup"
    RESULT = "result"


@dataclass(frozen=True, slots=True)
class Route:
    """The end of a menu: kind, queue and priority, a result value and why."""

    kind: RouteKind
    queue: str = ""
    priority: int = 0
    result: str = ""
    reason: str = "key"


@dataclass(frozen=True, slots=True)
class Send:
    """An AGI command to queue on the session's channel under ``command_id``."""

    command_id: str
    command: AgiCommand


class _Purpose(Enum):
    LEASE = "lease"
    ANNOUNCE = "announce"
    PROMPT = "prompt"  # STREAM FILE interruptible by a key
    COLLECT = "collect"  # GET DATA: the key (or the timeout)
    FEEDBACK = "feedback"  # invalid / no-input prompt
    INFO = "info"  # self-service information, confirmations
    SETVAR = "setvar"
    BREAK = "break"
    RECORD = "record"  # RECORD FILE: a comment (its result does not change the route)


_SOUND = frozenset(
    {
        _Purpose.ANNOUNCE,
        _Purpose.PROMPT,
        _Purpose.COLLECT,
        _Purpose.FEEDBACK,
        _Purpose.INFO,
        _Purpose.RECORD,
    }
)

RECORDING_VAR = "HOTLINE_RECORDING"
"""Set before a comment is recorded: the file (``hotline-survey/<session>.wav``)."""
RECORDINGS_DIR = "hotline-survey"


@dataclass(slots=True)
class _Step:
    purpose: _Purpose
    command: AgiCommand
    wait_s: float = 0.0  # how long the command may wait for a key after the sound
    leased: bool = False


@dataclass(slots=True)
class MenuSession:
    """One caller in one menu (see the module docstring)."""

    menu: Menu
    session_id: str
    language: str = ""
    announcements: Mapping[str | None, Sequence[str]] = field(default_factory=dict)
    guard_s: float = 10.0
    prompt_s: float = 60.0
    path: list[str] = field(default_factory=list)
    route: Route | None = None
    done: bool = False
    node: str = ""
    tries: int = 0
    steps: int = 0
    errors: list[str] = field(default_factory=list)
    _stack: list[str] = field(default_factory=list)
    _plan: deque[_Step] = field(default_factory=deque)
    _inflight: tuple[str, _Step] | None = None
    _seq: int = 0
    _now: datetime | None = None

    def __post_init__(self) -> None:
        self.language = self.language if self.language in self.menu.languages else ""
        self.language = self.language or self.menu.language
        self.node = self.menu.start

    # -- inputs -------------------------------------------------------------------------------

    def start(self, now: datetime) -> list[Send]:
        """The first command: announcements for everyone, then the start node."""
        self._now = now
        for sound in self.announcements.get(None, ()):
            self._plan.append(_Step(_Purpose.ANNOUNCE, agi.stream_file(sound)))
        self._enter(self.node)
        return self._next()

    def on_result(self, command_id: str, result: AgiResult, now: datetime) -> list[Send]:
        """A command finished; the next command (none when the session is over or waiting)."""
        self._now = now
        if self.done or self._inflight is None or self._inflight[0] != command_id:
            return []
        step = self._inflight[1]
        self._inflight = None
        if result.hung_up:
            return self.on_hangup()
        if not result.ok:
            self.errors.append(f"{step.command.text}: {result.code} {result.message}".strip())
            if step.purpose is _Purpose.BREAK:
                self.done = True  # cannot even leave AGI: the lease hands the caller over
                return []
            if self.route is None:
                self._finish(self._operator("agi-error"))
            return self._next()
        if step.purpose is _Purpose.BREAK:
            self.done = True
            return []
        if step.purpose is _Purpose.PROMPT and (key := result.digit_code()):
            self._drop_node_prompts()
            self._key(key)
        elif step.purpose is _Purpose.COLLECT:
            key = result.digits()[:1]
            if key:
                self._key(key)
            else:
                self._no_key(PATH_TIMEOUT)
        return self._next()

    def on_hangup(self, reason: str = "caller") -> list[Send]:
        """The caller hung up, or AsyncAGI ended without our break (``reason`` says which):
        the session is over. A result already given (a survey rating) stands: the caller may
        leave during the comment or the thanks."""
        if not self.done:
            # Before our break ran, a route chosen is moot: the caller (or AGI) left first.
            self.done = True
            if self.route is None or self.route.kind is not RouteKind.RESULT:
                self.route = Route(RouteKind.HANGUP, reason=reason)
            self._plan.clear()
            self._inflight = None
        return []

    # -- the walk ------------------------------------------------------------------------------

    def _sound(self, prompt: str) -> str:
        return self.menu.sound(prompt, self.language)

    def _enter(self, name: str, *, again: bool = False) -> None:
        """Play node ``name``; ``again`` (a retry, repeat or language switch) plays only its
        last prompt, the one that lists the keys, not the greeting before it."""
        self.steps += 1
        if self.steps > self.menu.max_steps:
            self._finish(self._operator("loop"))
            return
        self.node = name
        node = self.menu.nodes[name]
        *first, last = node.prompts
        if again:
            first = []
        escape = "".join(sorted({*node.keys, *self.menu.operator_key}))
        for prompt in first:
            self._plan.append(_Step(_Purpose.PROMPT, agi.stream_file(self._sound(prompt), escape)))
        timeout_ms = int(node.timeout_s * 1000)
        command = agi.get_data(self._sound(last), timeout_ms, 1)
        self._plan.append(_Step(_Purpose.COLLECT, command, node.timeout_s))

    def _drop_node_prompts(self) -> None:
        while self._plan and self._plan[0].purpose in (_Purpose.PROMPT, _Purpose.COLLECT):
            self._plan.popleft()

    def _key(self, key: str) -> None:
        node = self.menu.nodes[self.node]
        action = node.keys.get(key)
        if action is None and key == self.menu.operator_key:
            action = Action(ActionKind.OPERATOR)
        if action is None:
            self._no_key(PATH_INVALID)
            return
        self.path.append(key)
        # The path so far rides along with the next command: a caller who hangs up later in
        # the menu still has the keys they pressed on the record.
        self._plan.append(
            _Step(_Purpose.SETVAR, agi.set_variable("HOTLINE_IVR_PATH", self._joined()))
        )
        self._do(action, node)

    def _joined(self) -> str:
        return "/".join(self.path)

    def _no_key(self, why: str) -> None:
        node = self.menu.nodes[self.node]
        self.tries += 1
        if self.tries > node.tries_for(why):
            self.path.append(why)
            end = node.on_timeout if why == PATH_TIMEOUT else node.on_invalid
            if end is None:
                self._finish(self._operator(why))
            else:
                self._end(end, why)
            return
        prompt = node.timeout_prompt if why == PATH_TIMEOUT else node.invalid_prompt
        if prompt:
            self._plan.append(_Step(_Purpose.FEEDBACK, agi.stream_file(self._sound(prompt))))
        self._enter(self.node, again=True)

    def _do(self, action: Action, node: Node) -> None:
        kind = action.kind
        if kind is ActionKind.GOTO:
            self._stack.append(node.name)
            self.tries = 0
            self._enter(action.target)
        elif kind is ActionKind.BACK:
            self.tries = 0
            self._enter(self._stack.pop() if self._stack else node.name)
        elif kind is ActionKind.REPEAT:
            self._enter(node.name, again=True)
        elif kind is ActionKind.LANGUAGE:
            self.language = action.target
            self._enter(node.name, again=True)
        else:
            self._end(action, "key")

    def _operator(self, reason: str) -> Route:
        op = self.menu.operator
        return Route(RouteKind.QUEUE, op.target, op.priority, reason=reason)

    def _end(self, action: Action, reason: str) -> None:
        """An action that ends the menu, business calendar first."""
        if action.calendar is not None and self._now is not None:
            calendar = self.menu.calendars[action.calendar]
            if not calendar.is_open(self._now):
                self.path.append("closed")
                self._end(self.menu.closed[action.calendar], "closed")
                return
        if action.kind is ActionKind.RESULT:
            # The result rides along with the next command: a caller who hangs up during the
            # comment or the thanks has still given it (the dialplan's h extension reads it).
            self._plan.append(
                _Step(_Purpose.SETVAR, agi.set_variable("HOTLINE_RESULT", action.target))
            )
        if action.record:
            self._plan.append(_Step(_Purpose.INFO, agi.stream_file(self._sound(action.record))))
            name = f"{RECORDINGS_DIR}/{self.session_id}"
            self._plan.append(_Step(_Purpose.SETVAR, agi.set_variable(RECORDING_VAR, name)))
            command = agi.record_file(name, "wav", "#", action.record_s * 1000, action.silence_s)
            self._plan.append(_Step(_Purpose.RECORD, command, float(action.record_s)))
        for prompt in action.prompts:
            self._plan.append(_Step(_Purpose.INFO, agi.stream_file(self._sound(prompt))))
        kind = action.kind
        if kind is ActionKind.OPERATOR:
            self._finish(self._operator(reason))
        elif kind is ActionKind.QUEUE:
            self._finish(Route(RouteKind.QUEUE, action.target, action.priority, reason=reason))
        elif kind is ActionKind.PLAY:
            self._finish(Route(RouteKind.SELF_SERVICE, reason=reason))
        elif kind is ActionKind.CALLBACK:
            queue = action.target or self.menu.operator.target
            self._finish(Route(RouteKind.CALLBACK, queue, action.priority, reason=reason))
        elif kind is ActionKind.RESULT:
            self._finish(Route(RouteKind.RESULT, result=action.target, reason=reason))
        else:
            self._finish(Route(RouteKind.HANGUP, reason=reason))

    def _finish(self, route: Route) -> None:
        """Set the route variables, drop the lease, leave AGI."""
        self.route = route
        if route.kind is RouteKind.QUEUE:
            for sound in self.announcements.get(route.queue, ()):
                self._plan.append(_Step(_Purpose.ANNOUNCE, agi.stream_file(sound)))
        values = {
            "HOTLINE_ROUTE": route.kind.value,
            "HOTLINE_QUEUE": route.queue,
            "HOTLINE_QUEUE_PRIORITY": str(route.priority),
            "HOTLINE_RESULT": route.result,
            "HOTLINE_LANGUAGE": self.language,
            "HOTLINE_IVR_PATH": self._joined(),
        }
        for name, value in values.items():
            self._plan.append(_Step(_Purpose.SETVAR, agi.set_variable(name, value)))
        self._plan.append(_Step(_Purpose.SETVAR, agi.set_variable(LEASE_VAR, "0")))
        self._plan.append(_Step(_Purpose.BREAK, agi.asyncagi_break()))

    def _next(self) -> list[Send]:
        """The next batch: commands whose result does not matter (leases, variables) go out
        together with the next one that does (a sound, the break), which alone is tracked.
        Asterisk runs queued AGI commands back to back, but polls for new ones only every
        100 ms, so a batch saves a tenth of a second of silence per command."""
        if self.done or self._inflight is not None:
            return []
        sends: list[Send] = []
        while self._plan:
            step = self._plan.popleft()
            if step.purpose in _SOUND and not step.leased:
                # Each sound renews the lease, so a daemon that dies leaves the caller waiting
                # at most one prompt plus guard_s before the dialplan's T extension takes over.
                step.leased = True
                self._plan.appendleft(step)
                seconds = int(self.guard_s + self.prompt_s + step.wait_s)
                step = _Step(_Purpose.LEASE, agi.set_variable(LEASE_VAR, str(seconds)))
            self._seq += 1
            command_id = f"{self.session_id}-{self._seq}"
            sends.append(Send(command_id, step.command))
            if step.purpose not in (_Purpose.LEASE, _Purpose.SETVAR):
                self._inflight = (command_id, step)
                break
        return sends
