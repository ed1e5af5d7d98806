"""From pydantic's validation errors to icpbot's problems: file, line and key, never the value.

The YAML formats are validated by "input" pydantic models shaped like the file. Their
:class:`~pydantic.ValidationError` is turned here into :class:`~bot.errors.Problem` objects:
the error's location becomes a key path (union tags and ``[key]`` markers removed), the path gives
the line through :meth:`YamlDoc.line`, and the message is icpbot's own wording of the error type.
The input value is never asked for (``include_input=False``), so a mobile number typed in the wrong
place is not echoed.

:func:`json_schema` turns an input model into the JSON Schema editors read, with ``$ref`` inlined.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, StringConstraints, Tag, ValidationError
from pydantic_core import ErrorDetails

from bot.config.yamldoc import KeyPath, YamlDoc, format_path
from bot.errors import Problem

__all__ = [
    "NAME_PATTERN",
    "NON_EMPTY_PATTERN",
    "NonEmpty",
    "Say",
    "json_schema",
    "problem",
    "to_problems",
]

#: snake_case names of elements and statuses
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
#: a string with something other than white space in it
NON_EMPTY_PATTERN = r"\S"
#: a string with something other than white space in it ("must be a non-empty string")
NonEmpty = Annotated[str, StringConstraints(pattern=NON_EMPTY_PATTERN)]

#: A caller's own wording for an error: (clean key path, error, model owning the key) -> message,
#: or None for the default wording.
Say = Callable[[KeyPath, ErrorDetails, type[BaseModel] | None], str | None]

_PATTERN_MESSAGES = {
    NON_EMPTY_PATTERN: "must be a non-empty string",
    NAME_PATTERN: "names are snake_case (a-z, 0-9, _)",
}


def problem(doc: YamlDoc, path: KeyPath, message: str) -> Problem:
    """A problem at ``path`` of ``doc``, with the line of the path (or of its nearest parent)."""
    return Problem(doc.file, doc.line(path), format_path(path), message)


def to_problems(
    exc: ValidationError,
    doc: YamlDoc,
    root: type[BaseModel],
    *,
    say: Say | None = None,
    skip: Iterable[KeyPath] = (),
) -> list[Problem]:
    """One problem per error of ``exc`` (raised by validating ``doc.data`` with ``root``).

    Errors at or under a path in ``skip`` are left out: those paths already have a problem.
    """
    skipped = tuple(skip)
    out: list[Problem] = []
    for err in exc.errors(include_url=False, include_input=False):
        path, owner = clean_path(err["loc"], root)
        if any(path[: len(s)] == s for s in skipped):
            continue
        message = (say(path, err, owner) if say is not None else None) or _default(path, err, owner)
        out.append(problem(doc, path, message))
    return out


def clean_path(
    loc: tuple[str | int, ...], root: type[BaseModel]
) -> tuple[KeyPath, type[BaseModel] | None]:
    """pydantic's error location as a key path of the file, and the model that owns its last key.

    Follows the field types from ``root``: a union tag (the name pydantic puts in the location of a
    discriminated union's member) and the ``[key]`` marker of a bad mapping key are not keys.
    """
    tp: Any = root
    owner: type[BaseModel] | None = None
    path: list[str | int] = []
    for part in loc:
        if part == "[key]":
            continue
        members = _members(tp)
        if len(members) > 1:
            tagged = {_tag(m): m for m in members}
            if part in tagged:
                tp = tagged[part]
                continue
        tp = _bare(members[0]) if members else None
        path.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
            field = tp.model_fields.get(str(part))
            tp = field.annotation if field is not None else None
        elif get_origin(tp) in (list, tuple, set, frozenset):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            tp = None
    return tuple(path), owner


def _bare(tp: Any) -> Any:
    return get_args(tp)[0] if get_origin(tp) is Annotated else tp


def _members(tp: Any) -> list[Any]:
    """The members of a union (None left out), or ``[tp]``."""
    tp = _bare(tp)
    if get_origin(tp) in (Union, types.UnionType):
        return [m for m in get_args(tp) if m is not type(None)]
    return [tp]


def _tag(tp: Any) -> str | None:
    if get_origin(tp) is Annotated:
        for meta in tp.__metadata__:
            if isinstance(meta, Tag):
                return meta.tag
    return None


def _choices(ctx: dict[str, Any]) -> str:
    return " | ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))


_MESSAGES = {
    "string_type": "must be a string",
    "string_too_short": "must be a non-empty string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "too_short": "must be a non-empty list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def _default(path: KeyPath, err: ErrorDetails, owner: type[BaseModel] | None) -> str:
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind == "extra_forbidden":
        allowed = ", ".join(owner.model_fields) if owner is not None else "none"
        return f"unknown key; allowed here: {allowed}"
    if kind == "missing":
        return f"missing required key {path[-1]!r}" if path else "missing"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error") or err["msg"])
    if kind in ("enum", "literal_error"):
        return f"must be one of: {_choices(ctx)}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return _PATTERN_MESSAGES.get(pattern, f"must match the pattern {pattern}")
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        bound = f"{bound:g}" if isinstance(bound, int | float) else bound
        return f"must be {'at least' if kind == 'greater_than_equal' else 'more than'} {bound}"
    return _MESSAGES.get(kind, err["msg"])


def json_schema(model: type[BaseModel], **top: Any) -> dict[str, Any]:
    """``model``'s JSON Schema (draft 2020-12) with every ``$ref`` inlined and ``top`` keys first.

    Inlined, a key's schema is where an editor (and a reader) looks for it; the formats have no
    recursive types, so nothing is lost.
    """
    schema = model.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            rest = {k: inline(v) for k, v in node.items() if k != "$ref"}
            if isinstance(ref, str):
                return {**inline(defs[ref.rsplit("/", 1)[-1]]), **rest}
            return rest
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **top, **inline(schema)}
