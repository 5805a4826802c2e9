""":func:`frozen_event`: what ``@dataclass(frozen=True, slots=True)`` makes of an event class,
built for a fraction of its import cost.

``dataclasses`` compiles six functions per class (``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__``, ``__delattr__``) with ``exec``; for the ~70 event classes that was
most of the 90-100 ms ``telephony.ami.events`` took to import. Here the same methods are shared
functions reading a per-class tuple of field names, except ``__init__``, which is generated
like dataclasses' own but only when a class is first instantiated (with the compiled codec,
decoders fill the slots directly and never call it). What the class looks like from outside is
the same: a ``__slots__`` class with the same fields (``dataclasses.fields``, ``replace``,
``astuple`` and ``asdict`` work on it), ``__match_args__``, field-wise equality and hash, the
dataclass ``repr`` and :class:`dataclasses.FrozenInstanceError` on assignment.
Only the subset of dataclasses the events use is supported (checked at class creation).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T", bound=type)

# dataclasses marks its fields with private sentinels; dataclasses.fields() keeps those
# marked _FIELD and skips the _FIELD_CLASSVAR pseudo-fields (hence the lookups by name).
_FIELD = getattr(dataclasses, "_FIELD")  # noqa: B009
_FIELD_CLASSVAR = getattr(dataclasses, "_FIELD_CLASSVAR")  # noqa: B009
_MISSING = dataclasses.MISSING
_FrozenInstanceError = dataclasses.FrozenInstanceError


class _Factory:
    """The default of a field with a default factory in a generated ``__init__``."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


@dataclasses.dataclass(frozen=True)
class _Frozen:
    """Only for its ``__dataclass_params__`` (frozen, eq, init, repr), which event classes
    share: a dataclass subclassing an event sees a frozen dataclass base."""


_PARAMS = _Frozen.__dataclass_params__  # type: ignore[attr-defined]


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _values_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The field values of an instance, as a tuple, in field order."""
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda obj: (get(obj),)
    return attrgetter(*names)


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        values = self.__class__._event_values
        return values(self) == values(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__class__._event_values(self))


@recursive_repr()
def _repr(self: Any) -> str:
    cls = self.__class__
    text: str = (
        cls.__qualname__
        + "("
        + ", ".join([f"{name}={getattr(self, name)!r}" for name in cls._event_names])
        + ")"
    )
    return text


def _getstate(self: Any) -> list[Any]:
    return list(self.__class__._event_values(self))


def _setstate(self: Any, state: list[Any]) -> None:
    for name, value in zip(self.__class__._event_names, state, strict=False):
        object.__setattr__(self, name, value)


def _frozen_setters(cls: type, names: frozenset[str]) -> tuple[Callable[..., None], ...]:
    """dataclasses' frozen ``__setattr__`` and ``__delattr__`` for ``cls``."""

    def __setattr__(self: object, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise _FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[arg-type]  # (mypy: cls a type)

    def __delattr__(self: object, name: str) -> None:
        if type(self) is cls or name in names:
            raise _FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[arg-type]

    return __setattr__, __delattr__


def _make_init(cls: type) -> Callable[..., None]:
    """dataclasses' ``__init__`` for the frozen slots class ``cls``."""
    fields = [f for f in cls.__dataclass_fields__.values() if f._field_type is _FIELD]  # type: ignore[attr-defined]
    params, body = [], []
    env: dict[str, Any] = {"_set": object.__setattr__, "_FACTORY": _FACTORY}
    for f in fields:
        if f.default_factory is not _MISSING:
            env[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            body.append(
                f" _set(self, {f.name!r}, _factory_{f.name}() if {f.name} is _FACTORY"
                f" else {f.name})"
            )
            continue
        if f.default is _MISSING:
            params.append(f.name)
        else:
            env[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        body.append(f" _set(self, {f.name!r}, {f.name})")
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or [" pass"])
    exec(source, env)  # noqa: S102 (built from the class's own field names)
    init: Callable[..., None] = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {f.name: f.type for f in fields} | {"return": None}
    return init


def _lazy_init(owner: list[type]) -> Callable[..., None]:
    """An ``__init__`` that generates the real one at the first call and puts it in place."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        _real_init(owner[0])(self, *args, **kwargs)

    __init__._lazy = True  # type: ignore[attr-defined]
    return __init__


def _real_init(cls: type) -> Callable[..., None]:
    init: Callable[..., None] = cls.__dict__["__init__"]
    if getattr(init, "_lazy", False):
        init = _make_init(cls)
        type.__setattr__(cls, "__init__", init)
    return init


class _Signature:
    """``inspect.signature(cls)`` as for a dataclass, also before the first instance (the
    lazy ``__init__`` takes ``*args, **kwargs``): generates ``__init__`` and reads it."""

    def __get__(self, obj: object, owner: type) -> Any:
        cls = next(cls for cls in owner.__mro__ if "__init__" in cls.__dict__)
        sig = inspect.signature(_real_init(cls))
        return sig.replace(parameters=tuple(sig.parameters.values())[1:])


_SIGNATURE = _Signature()


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen_event(cls: _T) -> _T:
    """``@dataclass(frozen=True, slots=True)`` for the event classes (see the module)."""
    fields: dict[str, dataclasses.Field[Any]] = {}
    for base in cls.__mro__[-1:0:-1]:
        fields.update(getattr(base, "__dataclass_fields__", {}))
    own = inspect.get_annotations(cls)
    ns = dict(cls.__dict__)
    new: list[str] = []
    for name, annotation in own.items():
        default = ns.get(name, _MISSING)
        if isinstance(default, dataclasses.Field):
            f = default
            if f.init is not True or f.repr is not True or f.compare is not True:
                raise TypeError(f"{cls.__name__}.{name}: only plain fields are supported")
        else:
            f = dataclasses.field(default=default)
        f.name = name
        f.type = annotation
        if _is_classvar(annotation):
            f._field_type = _FIELD_CLASSVAR  # type: ignore[attr-defined]
        else:
            f._field_type = _FIELD  # type: ignore[attr-defined]
            f.kw_only = False
            ns.pop(name, None)
            if name not in fields:
                new.append(name)
        fields[name] = f
    names = tuple(name for name, f in fields.items() if f._field_type is _FIELD)  # type: ignore[attr-defined]
    seen_default = False
    for name in names:
        f = fields[name]
        if f.default is _MISSING and f.default_factory is _MISSING:
            if seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
        else:
            seen_default = True
    ns.pop("__dict__", None)
    ns.pop("__weakref__", None)
    ns["__slots__"] = tuple(new)
    ns["__dataclass_fields__"] = fields
    ns["__dataclass_params__"] = _PARAMS
    ns["__match_args__"] = names
    ns["_event_names"] = names
    ns["_event_values"] = _values_of(names)
    owner: list[type] = []
    ns["__init__"] = _lazy_init(owner)
    ns["__signature__"] = _SIGNATURE
    ns["__repr__"] = _repr
    ns["__eq__"] = _eq
    ns["__hash__"] = _hash
    ns["__getstate__"] = _getstate
    ns["__setstate__"] = _setstate
    made = type(cls)(cls.__name__, cls.__bases__, ns)
    made.__qualname__ = cls.__qualname__
    setattr_, delattr_ = _frozen_setters(made, frozenset(names))
    type.__setattr__(made, "__setattr__", setattr_)
    type.__setattr__(made, "__delattr__", delattr_)
    owner.append(made)
    return made
