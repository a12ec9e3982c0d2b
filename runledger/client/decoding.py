"""JSON bodies to the client's models and back: ``read`` a model from the API's JSON, ``dump`` one as JSON.

The standard library's json parses and writes: orjson would parse a page of 50 runs a millisecond
faster but costs a query command ten to import. ``read`` checks each value against its field's type,
as the model declares it, and builds the dataclasses: ``str``, ``int``, ``float`` (an integer too), ``bool``, ``datetime`` (RFC 3339), ``Literal``,
``list``, ``dict``, ``X | None``, unions of models (the first that reads), nested models, ``Any``. Fields
the model does not declare are ignored; a missing required field, or a value of another type, raises
``DecodeError`` naming where it is. The reader of each type is built once, on first use, so a command
pays only for the models it reads.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")
Reader = Callable[[Any, str], Any]
_READERS: dict[Any, Reader] = {}


class DecodeError(ValueError):
    """A body that is not the shape the model declares; the message says where and what."""


def read(model: type[T], body: bytes | str) -> T:
    """The model's instance from a JSON body."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    return reader(model)(data, model.__name__)


def reader(tp: Any) -> Reader:
    """The function that checks and converts a decoded JSON value to ``tp``."""
    found = _READERS.get(tp)
    if found is None:
        found = _READERS[tp] = _build(tp)
    return found


def dump(value: Any, *, indent: bool = False) -> str:
    """A model (or a list or dict of them) as the API's JSON: fields in their order, times as the server
    writes them (RFC 3339, UTC as "Z")."""
    if indent:
        return json.dumps(value, default=_plain, ensure_ascii=False, indent=2)
    return json.dumps(value, default=_plain, ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if dataclasses.is_dataclass(value):
        return value.__dict__  # a model's state is its fields, in their order
    raise TypeError(f"{type(value).__name__} is not JSON")


def _build(tp: Any) -> Reader:
    if dataclasses.is_dataclass(tp):
        return _model_reader(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        item = reader(args[0])
        return lambda v, at: [item(x, f"{at}[{i}]") for i, x in enumerate(_checked(v, list, at))]
    if origin is dict:
        value = reader(args[1])
        return lambda v, at: {k: value(x, f"{at}.{k}") for k, x in _checked(v, dict, at).items()}
    if origin is typing.Literal:
        return lambda v, at: v if v in args and type(v) in {type(a) for a in args} else _wrong(v, f"one of {args}", at)
    if origin in (types.UnionType, typing.Union):
        return _union_reader(args)
    if tp is Any:
        return lambda v, at: v
    if tp is datetime:
        return _datetime
    if tp is float:
        # JSON does not tell 1 from 1.0: an integer is a float's value too (a bool is not).
        return lambda v, at: float(v) if type(v) in (int, float) else _wrong(v, "a number", at)
    if tp in (str, int, bool):
        return lambda v, at: v if type(v) is tp else _wrong(v, f"a {tp.__name__}", at)
    raise TypeError(f"no reader for {tp!r}")


def _model_reader(model: Any) -> Reader:
    fields = [(f.name, f.type, f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
              for f in dataclasses.fields(model)]  # fmt: skip
    readers: list[tuple[str, Reader, bool]] = []

    def read_model(value: Any, at: str) -> Any:
        if not readers:  # built on first use: a model's field types are read only when one is decoded
            readers.extend((name, reader(tp), required) for name, tp, required in fields)
        value = _checked(value, dict, at)
        kwargs = {}
        for name, read_field, required in readers:
            if name in value:
                kwargs[name] = read_field(value[name], f"{at}.{name}")
            elif required:
                raise DecodeError(f"{at}.{name}: missing")
        return model(**kwargs)

    return read_model


def _union_reader(args: tuple[Any, ...]) -> Reader:
    nullable = type(None) in args
    choices = [reader(a) for a in args if a is not type(None)]

    def read_union(value: Any, at: str) -> Any:
        if value is None and nullable:
            return None
        errors = []
        for choice in choices:
            try:
                return choice(value, at)
            except DecodeError as exc:
                errors.append(str(exc))
        raise DecodeError(" / ".join(errors) if len(errors) > 1 else errors[0] if errors else f"{at}: not null")

    return read_union


def _datetime(value: Any, at: str) -> datetime:
    if type(value) is str:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return _wrong(value, "an RFC 3339 time", at)


def _checked(value: Any, kind: type[T], at: str) -> T:
    return value if type(value) is kind else _wrong(value, "an object" if kind is dict else "an array", at)


def _wrong(value: Any, expected: str, at: str) -> typing.NoReturn:
    raise DecodeError(f"{at}: {expected} expected, not {json.dumps(value)[:60]}")
