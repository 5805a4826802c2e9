"""Menus as data: load ``ivr_prompts/*.toml`` into frozen values and validate them.

A file holds ``[defaults]`` (for its menus), ``[calendars.NAME]`` and ``[menus.NAME]`` with
``[menus.NAME.nodes.NODE]``; see ``ivr_prompts/menus.toml`` for a commented example. Every error
names the file, the menu, the node and the field (``menus.toml: menu hotline, node main,
keys.4: goto 'nowhere' is not a node of this menu``).

Rules that keep a caller from being stranded: every node has prompts and at least one key; every
``goto`` lands on a node of the same menu and every node is reachable from ``start``; no input
and invalid keys end, after ``retries`` (``timeout_retries`` for no key), at the menu's
``operator`` queue unless the node names another end (``on_timeout`` / ``on_invalid``, e.g. a
survey's ``{ result = "none" }``); the operator key (``0``
by default) works on every node; a key action ends in a queue, self-service (information then
hang-up), a callback request, a result, or another node.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telephony.ivr.calendar import Calendar, CalendarError, calendar_from_table

KEYS = frozenset("0123456789*#")
DEFAULT_ZONE = "Asia/Shanghai"


class MenuError(ValueError):
    """A menu file that cannot be used; the message names file, menu, node and field."""


class ActionKind(StrEnum):
    """What a key (or a closed route, or running out of tries) does."""

    GOTO = "goto"
    QUEUE = "queue"
    PLAY = "play"  # self-service: information, then the call ends
    REPEAT = "repeat"
    BACK = "back"
    LANGUAGE = "language"
    CALLBACK = "callback"  # ask to be called back instead of waiting
    OPERATOR = "operator"  # the menu's operator queue
    HANGUP = "hangup"
    RESULT = "result"  # end with a value for the dialplan (``HOTLINE_RESULT``), e.g. a rating


ENDS = frozenset(
    {
        ActionKind.QUEUE,
        ActionKind.PLAY,
        ActionKind.CALLBACK,
        ActionKind.OPERATOR,
        ActionKind.HANGUP,
        ActionKind.RESULT,
    }
)
"""Actions that end the menu (the others move within it)."""


@dataclass(frozen=True, slots=True)
class Action:
    """One action: ``target`` is the node, queue, language or result value, by kind."""

    kind: ActionKind
    target: str = ""
    priority: int = 0
    prompts: tuple[str, ...] = ()
    calendar: str | None = None
    record: str | None = None  # a result: this prompt, then a recorded comment (surveys)
    record_s: int = 60  # the longest comment
    silence_s: int = 5  # silence that ends it


@dataclass(frozen=True, slots=True)
class Node:
    """One menu level: prompts, then a key within ``timeout_s``; ``retries`` more tries."""

    name: str
    prompts: tuple[str, ...]
    keys: Mapping[str, Action]
    timeout_s: float
    retries: int
    invalid_prompt: str | None
    timeout_prompt: str | None
    timeout_retries: int | None = None  # tries after no key (default: ``retries``)
    on_timeout: Action | None = None  # when the tries run out (default: the operator queue)
    on_invalid: Action | None = None

    def tries_for(self, why: str) -> int:
        """How many more tries after no key (``timeout``) or a wrong key."""
        if why == "timeout" and self.timeout_retries is not None:
            return self.timeout_retries
        return self.retries


@dataclass(frozen=True, slots=True)
class Menu:
    """A validated menu (see the module docstring)."""

    name: str
    source: Path
    start: str
    nodes: Mapping[str, Node]
    operator: Action
    operator_key: str
    language: str
    languages: tuple[str, ...]
    sounds: str
    calendars: Mapping[str, Calendar] = field(default_factory=lambda: MappingProxyType({}))
    closed: Mapping[str, Action] = field(default_factory=lambda: MappingProxyType({}))
    max_steps: int = 30

    def sound(self, prompt: str, language: str) -> str:
        """The file name Asterisk plays for ``prompt`` (``hotline/zh/welcome``)."""
        return f"{self.sounds}/{language}/{prompt}"

    def prompts(self) -> set[str]:
        """Every prompt this menu can play (for the prompt check)."""
        out: set[str] = set()
        actions = [self.operator, *self.closed.values()]
        for node in self.nodes.values():
            out.update(node.prompts)
            out.update(p for p in (node.invalid_prompt, node.timeout_prompt) if p)
            actions.extend(node.keys.values())
            actions.extend(a for a in (node.on_timeout, node.on_invalid) if a is not None)
        for action in actions:
            out.update(action.prompts)
            if action.record:
                out.add(action.record)
        return out

    def queues(self) -> set[str]:
        """Every queue this menu can route to."""
        actions = [self.operator, *self.closed.values()]
        for node in self.nodes.values():
            actions.extend(node.keys.values())
            actions.extend(a for a in (node.on_timeout, node.on_invalid) if a is not None)
        return {a.target for a in actions if a.kind in (ActionKind.QUEUE, ActionKind.CALLBACK)} | {
            self.operator.target
        }


class _Where:
    """Builds the 'file: menu m, node n, field' prefix of an error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, *parts: str) -> str:
        return f"{self.path.name}: " + ", ".join(p for p in parts if p)


_NODE_FIELDS = {"prompts", "keys", "timeout_s", "retries", "invalid_prompt", "timeout_prompt"}
_NODE_FIELDS |= {"timeout_retries", "on_timeout", "on_invalid"}
_MENU_FIELDS = {"start", "operator", "operator_key", "language", "languages", "sounds", "nodes"}
_MENU_FIELDS |= {"timeout_s", "retries", "invalid_prompt", "timeout_prompt", "zone", "max_steps"}
_MENU_FIELDS |= {"timeout_retries", "on_timeout", "on_invalid"}
_DEFAULT_FIELDS = _MENU_FIELDS - {"start", "nodes"}
_ACTION_WORDS = {"repeat", "back", "operator", "hangup"}
_ACTION_FIELDS = {
    "goto",
    "queue",
    "priority",
    "calendar",
    "play",
    "language",
    "callback",
    "prompts",
    "result",
    "hangup",
    "operator",
    "record",
    "record_s",
    "silence_s",
}


def _str(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MenuError(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _prompt_list(value: object, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise MenuError(f"{where}: expected a prompt name or a list of prompt names")
    names = tuple(i.strip() for i in items)
    for name in names:
        if any(c.isspace() for c in name) or name.startswith("/") or ".." in name:
            raise MenuError(f"{where}: prompt name {name!r} must be a plain file name")
    return names


def _number(value: object, where: str, *, minimum: float, integer: bool = False) -> float:
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or value < minimum:  # type: ignore[operator]
        kind = "a whole number" if integer else "a number"
        raise MenuError(f"{where}: expected {kind} ≥ {minimum:g}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def parse_action(value: object, where: str) -> Action:
    """A key's action from TOML: a word (``"repeat"``) or a one-action table."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word not in _ACTION_WORDS:
            raise MenuError(
                f"{where}: unknown action {value!r} (words: {', '.join(sorted(_ACTION_WORDS))}; "
                "or a table such as {{ queue = 'hotline' }})"
            )
        return Action(ActionKind(word))
    if not isinstance(value, Mapping):
        raise MenuError(f"{where}: expected an action word or table, got {value!r}")
    unknown = set(value) - _ACTION_FIELDS
    if unknown:
        raise MenuError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    kinds = [k for k in ("goto", "queue", "play", "language", "callback", "result") if k in value]
    kinds += [k for k in ("hangup", "operator") if value.get(k) is True]
    if len(kinds) != 1:
        raise MenuError(
            f"{where}: an action needs exactly one of goto, queue, play, language, callback, "
            f"result, hangup, operator (got {', '.join(kinds) or 'none'})"
        )
    kind = ActionKind(kinds[0])
    prompts = _prompt_list(value["prompts"], f"{where}.prompts") if "prompts" in value else ()
    priority = 0
    if "priority" in value:
        priority = int(_number(value["priority"], f"{where}.priority", minimum=0, integer=True))
    calendar = _str(value["calendar"], f"{where}.calendar") if "calendar" in value else None
    if kind is not ActionKind.RESULT and {"record", "record_s", "silence_s"} & set(value):
        raise MenuError(f"{where}: record (a recorded comment) goes only with a result")
    if kind is ActionKind.RESULT and "record" in value:
        record = _prompt_list(value["record"], f"{where}.record")
        if len(record) != 1:
            raise MenuError(f"{where}.record: expected one prompt name (heard before the tone)")
        longest = _number(value.get("record_s", 60), f"{where}.record_s", minimum=1, integer=True)
        silence = _number(value.get("silence_s", 5), f"{where}.silence_s", minimum=1, integer=True)
        target = _str(value["result"], f"{where}.result")
        return Action(
            kind,
            target,
            prompts=prompts,
            record=record[0],
            record_s=int(longest),
            silence_s=int(silence),
        )
    if kind is ActionKind.PLAY:
        return Action(kind, prompts=_prompt_list(value["play"], f"{where}.play") + prompts)
    if kind is ActionKind.CALLBACK:
        target = value["callback"]
        queue = "" if target is True else _str(target, f"{where}.callback")
        return Action(kind, queue, priority, prompts, calendar)
    if kind in (ActionKind.HANGUP, ActionKind.OPERATOR):
        return Action(kind, prompts=prompts)
    target = _str(value[kind.value], f"{where}.{kind.value}")
    return Action(kind, target, priority, prompts, calendar)


def _check_fields(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise MenuError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(allowed))})"
        )


def _node(name: str, table: object, opts: Mapping[str, Any], where: str) -> Node:
    if not isinstance(table, Mapping):
        raise MenuError(f"{where}: expected a table")
    _check_fields(table, _NODE_FIELDS, where)
    if "prompts" not in table:
        raise MenuError(f"{where}: prompts is missing (what does the caller hear?)")
    prompts = _prompt_list(table["prompts"], f"{where}, prompts")
    if not prompts:
        raise MenuError(f"{where}, prompts: expected a prompt name or a non-empty list")
    raw_keys = table.get("keys", {})
    if not isinstance(raw_keys, Mapping) or not raw_keys:
        raise MenuError(f"{where}, keys: a node needs at least one key")
    keys: dict[str, Action] = {}
    for key, value in raw_keys.items():
        if key not in KEYS:
            raise MenuError(f"{where}, keys.{key}: a key is one of 0-9, * or #")
        keys[key] = parse_action(value, f"{where}, keys.{key}")
    merged = {**opts, **table}
    timeout = _number(merged.get("timeout_s", 5), f"{where}, timeout_s", minimum=1)
    retries = int(_number(merged.get("retries", 2), f"{where}, retries", minimum=0, integer=True))
    invalid = merged.get("invalid_prompt")
    no_input = merged.get("timeout_prompt")
    timeout_retries = None
    if "timeout_retries" in merged:
        timeout_retries = int(
            _number(merged["timeout_retries"], f"{where}, timeout_retries", minimum=0, integer=True)
        )
    ends: dict[str, Action | None] = {}
    for name_ in ("on_timeout", "on_invalid"):
        ends[name_] = None
        if name_ in merged:
            action = parse_action(merged[name_], f"{where}, {name_}")
            if action.kind not in ENDS:
                raise MenuError(
                    f"{where}, {name_}: must end the menu (result, queue, play, callback, "
                    "hangup, operator)"
                )
            ends[name_] = action
    return Node(
        name=name,
        prompts=prompts,
        keys=MappingProxyType(keys),
        timeout_s=timeout,
        retries=retries,
        invalid_prompt=_prompt_list(invalid, f"{where}, invalid_prompt")[0] if invalid else None,
        timeout_prompt=_prompt_list(no_input, f"{where}, timeout_prompt")[0] if no_input else None,
        timeout_retries=timeout_retries,
        on_timeout=ends["on_timeout"],
        on_invalid=ends["on_invalid"],
    )


def _zone(name: object, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(_str(name, where))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MenuError(f"{where}: {name!r} is not a known time zone") from exc


def _menu(
    name: str,
    table: object,
    defaults: Mapping[str, Any],
    calendars: Mapping[str, Calendar],
    closed: Mapping[str, Action],
    path: Path,
) -> Menu:
    w = _Where(path)
    at = f"menu {name}"
    if not isinstance(table, Mapping):
        raise MenuError(w(at, "expected a table"))
    _check_fields(table, _MENU_FIELDS, w(at))
    opts = {**defaults, **{k: v for k, v in table.items() if k != "nodes"}}
    raw_nodes = table.get("nodes", {})
    if not isinstance(raw_nodes, Mapping) or not raw_nodes:
        raise MenuError(w(at, "nodes: a menu needs at least one node ([menus.NAME.nodes.NODE])"))
    node_opts = {k: v for k, v in opts.items() if k in _NODE_FIELDS}
    nodes = {n: _node(n, t, node_opts, w(at, f"node {n}")) for n, t in raw_nodes.items()}
    start = _str(opts.get("start", next(iter(nodes))), w(at, "start"))
    if start not in nodes:
        raise MenuError(w(at, f"start: {start!r} is not a node of this menu"))
    if "operator" not in opts:
        raise MenuError(w(at, "operator: missing (the queue callers reach when all else fails)"))
    operator = parse_action(opts["operator"], w(at, "operator"))
    if operator.kind is not ActionKind.QUEUE:
        raise MenuError(w(at, "operator: must be a queue, e.g. { queue = 'hotline' }"))
    if operator.calendar is not None:
        raise MenuError(w(at, "operator: the last resort is open 24/7 (no calendar)"))
    operator_key = str(opts.get("operator_key", "0"))
    if operator_key and operator_key not in KEYS:
        raise MenuError(w(at, f"operator_key: {operator_key!r} is not one of 0-9, * or #"))
    languages = opts.get("languages", ["zh", "en"])
    if not isinstance(languages, list) or not languages:
        raise MenuError(w(at, "languages: expected a list such as ['zh', 'en']"))
    languages = [_str(x, w(at, "languages")) for x in languages]
    language = _str(opts.get("language", languages[0]), w(at, "language"))
    if language not in languages:
        raise MenuError(w(at, f"language: {language!r} is not in languages {languages}"))
    sounds = _str(opts.get("sounds", "hotline"), w(at, "sounds")).strip("/")
    max_steps = int(_number(opts.get("max_steps", 30), w(at, "max_steps"), minimum=1, integer=True))
    menu = Menu(
        name=name,
        source=path,
        start=start,
        nodes=MappingProxyType(nodes),
        operator=operator,
        operator_key=operator_key,
        language=language,
        languages=tuple(languages),
        sounds=sounds,
        calendars=calendars,
        closed=closed,
        max_steps=max_steps,
    )
    _check_graph(menu, w)
    return menu


def _check_graph(menu: Menu, w: _Where) -> None:
    """Targets exist, every node is reachable, calendars and languages are known."""
    at = f"menu {menu.name}"
    for node in menu.nodes.values():
        for field_, end in (("on_timeout", node.on_timeout), ("on_invalid", node.on_invalid)):
            if end is not None and end.calendar is not None:
                raise MenuError(w(at, f"node {node.name}", f"{field_}: no calendar here"))
        for key, action in node.keys.items():
            here = w(at, f"node {node.name}", f"keys.{key}")
            if action.kind is ActionKind.GOTO and action.target not in menu.nodes:
                raise MenuError(f"{here}: goto {action.target!r} is not a node of this menu")
            if action.kind is ActionKind.LANGUAGE and action.target not in menu.languages:
                raise MenuError(f"{here}: language {action.target!r} is not in {menu.languages}")
            if action.calendar is not None and action.calendar not in menu.calendars:
                raise MenuError(f"{here}: calendar {action.calendar!r} is not defined")
            if key == menu.operator_key and action.kind is not ActionKind.OPERATOR:
                raise MenuError(f"{here}: {key} is the operator key of this menu")
    seen = {menu.start}
    todo = [menu.start]
    while todo:
        node = menu.nodes[todo.pop()]
        for action in node.keys.values():
            if action.kind is ActionKind.GOTO and action.target not in seen:
                seen.add(action.target)
                todo.append(action.target)
    unreachable = sorted(set(menu.nodes) - seen)
    if unreachable:
        raise MenuError(
            w(at, f"node {unreachable[0]}: not reachable from start {menu.start!r}")
            + " (remove it or add a goto)"
        )


def load_menu_file(path: Path) -> dict[str, Menu]:
    """Every menu of one TOML file, validated (MenuError otherwise)."""
    w = _Where(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MenuError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise MenuError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MenuError(f"{path.name}: not valid TOML: {exc}") from exc
    _check_fields(data, {"defaults", "calendars", "menus"}, w("top level"))
    defaults = data.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise MenuError(w("defaults: expected a table"))
    _check_fields(defaults, _DEFAULT_FIELDS, w("defaults"))
    zone = _zone(defaults.get("zone", DEFAULT_ZONE), w("defaults", "zone"))
    calendars: dict[str, Calendar] = {}
    closed: dict[str, Action] = {}
    raw_calendars = data.get("calendars", {})
    if not isinstance(raw_calendars, Mapping):
        raise MenuError(w("calendars: expected tables [calendars.NAME]"))
    for name, table in raw_calendars.items():
        at = w(f"calendar {name}")
        if not isinstance(table, Mapping):
            raise MenuError(f"{at}: expected a table")
        allowed = {"hours", "holidays", "workdays", "workday_hours", "closed", "zone"}
        _check_fields(table, allowed, at)
        cal_zone = _zone(table["zone"], f"{at}, zone") if "zone" in table else zone
        try:
            calendars[name] = calendar_from_table(name, table, cal_zone, at)
        except CalendarError as exc:
            raise MenuError(str(exc)) from exc
        action = parse_action(table.get("closed", "operator"), f"{at}, closed")
        if action.kind not in ENDS or action.calendar is not None:
            raise MenuError(f"{at}, closed: must end the call (queue, play, callback, hangup)")
        closed[name] = action
    raw_menus = data.get("menus", {})
    if not isinstance(raw_menus, Mapping) or not raw_menus:
        raise MenuError(w("menus: no menu defined ([menus.NAME])"))
    frozen_cal, frozen_closed = MappingProxyType(calendars), MappingProxyType(closed)
    return {
        name: _menu(name, table, defaults, frozen_cal, frozen_closed, path)
        for name, table in raw_menus.items()
    }


def load_menus(paths: Iterable[Path]) -> dict[str, Menu]:
    """Menus from several files (a directory means its ``*.toml`` except ``prompts*.toml``)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.glob("*.toml") if not p.name.startswith("prompts"))
        else:
            files.append(path)
    menus: dict[str, Menu] = {}
    for file in files:
        for name, menu in load_menu_file(file).items():
            if name in menus:
                raise MenuError(
                    f"{file.name}: menu {name}: already defined in {menus[name].source.name}"
                )
            menus[name] = menu
    return menus
