"""A project file's bytes read and its JSON text parsed, safely: only a regular file of at
most MAX_FILE_BYTES is read, and loading parses JSON and nothing else (no code in a file is
ever run). What JSON lets through but a project file must not hold is refused, each by its
place."""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from designer.io.project_format import ProjectError, key_place

# A bound a file must keep (docs/file-format.md; project_format holds the others).
MAX_FILE_BYTES = 256 * 1024 * 1024  # 256 MiB: a 10⁶-node design takes about 140


def read_file(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES, or a ProjectError."""
    try:  # O_NONBLOCK: opening a named pipe must not wait for a writer
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise ProjectError([f"cannot read the file: {error.strerror or error}"]) from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            kind = _file_kind(status.st_mode)
            raise ProjectError([f"cannot read the file: it is {kind}, not a regular file"])
        if status.st_size > MAX_FILE_BYTES:
            raise ProjectError([_too_large(status.st_size)])
        with open(descriptor, "rb", buffering=0, closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # it may have grown since
    except OSError as error:
        raise ProjectError([f"cannot read the file: {error.strerror or error}"]) from None
    except MemoryError:
        raise ProjectError(["the file is too large to read into memory"]) from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise ProjectError([_too_large(len(data))])
    return data


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def _too_large(size: int) -> str:
    return (
        f"the file is {size / 2**20:,.1f} MiB, more than the {MAX_FILE_BYTES // 2**20} MiB "
        "a project file may be"
    )


def careful_parse(text: str) -> Any:
    """The document, or a ProjectError naming the syntax error or every refused value."""
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
        )
    except json.JSONDecodeError as error:
        raise ProjectError([_syntax_problem(text, error)]) from None
    except RecursionError:
        raise ProjectError([_TOO_DEEP]) from None
    problems = _refusals(document)
    if problems:
        raise ProjectError(problems)
    return document


def encoding_problem(data: bytes, start: int) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return (
            "the file is UTF-16 text (it starts with a UTF-16 byte order mark); "
            "a project file is UTF-8"
        )
    line = data.count(b"\n", 0, start) + 1
    return (
        f"not UTF-8 text: byte 0x{data[start]:02x} on line {line} (offset {start}) "
        "is not valid UTF-8"
    )


def _syntax_problem(text: str, error: json.JSONDecodeError) -> str:
    """Python's message and place, said plainly where the cause is clear."""
    if not text[error.pos :].strip() or error.msg.startswith("Unterminated string"):
        end = len(text.rstrip())
        line = text.count("\n", 0, end) + 1
        column = end - text.rfind("\n", 0, end)
        return (
            f"not valid JSON: the text stops at line {line} column {column} before the JSON is "
            "complete; the file may have been cut short"
        )
    if error.pos == len(text) - len(text.lstrip()):
        return f"not JSON: a project file starts with '{{', this one with {_clip(text.lstrip())!r}"
    reason = "more text after the end of the JSON" if error.msg == "Extra data" else error.msg
    return f"not valid JSON: line {error.lineno} column {error.colno}: {reason}"


# JSON lets through what a project file must not hold: NaN and Infinity, numbers too large
# for a float, a key given twice (which value is meant?), lone surrogates (not characters,
# and unsavable as UTF-8), and nesting deep enough to exhaust recursion later on. The
# parser's hooks put a _Refused where such a value was; `_refusals` reports each by place.

MAX_DEPTH = 100
_TOO_DEEP = f"lists and objects nested more than {MAX_DEPTH} levels deep"
_SURROGATE = "half of a UTF-16 surrogate pair, which is not a character on its own"


@dataclass(frozen=True)
class _Refused:
    reason: str


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        surrogate = lone_surrogate(key)
        if key in result:
            value = _Refused("appears twice in the same object")
        elif surrogate:
            value = _Refused(f"the key has {surrogate}, {_SURROGATE}")
        result[key] = value
    return result


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a number JSON allows")


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"the number {_clip(text)} is too large")


def _int(text: str) -> int | _Refused:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        digits = len(text.lstrip("-"))
        return _Refused(f"the number {_clip(text)} has {digits} digits, too many to read")


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in `text`, escaped as in JSON, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"\\u{ord(text[error.start]):04x}"
    return None


# The careful parse above calls Python for every object and number, then visits every
# value: several times the cost of the parse itself. Nearly every file has nothing to
# refuse, and that can be shown for much less, so `plain_parse` tries first: the parser
# calls Python only for floats (and NaN or Infinity), and `census` visits only the
# document's objects and lists, to count their keys and their depth. Anything it cannot
# rule out sends the text to the careful parse, which then says what `loads` always said.

CAREFUL = object()  # `plain_parse`'s answer where the careful parse must look
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \ud800-\udfff; a false alarm costs time


class _Unusual(Exception):
    """Raised by the plain parse's hooks: the careful parse has something to say."""


def _unusual(_: str) -> Any:
    raise _Unusual


def _finite(text: str) -> float:
    value = float(text)
    if value - value:  # inf - inf is nan, which is true; a finite number gives 0.0
        raise _Unusual
    return value


def _distinct(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Unusual
    return result


def plain_parse(text: str) -> Any:
    """The document `json.loads` makes of a text without lone surrogates, its floats
    finite, else CAREFUL (so also where the text is not valid JSON: the careful parse
    words the error). A key given twice and over-deep nesting are not ruled out yet:
    `vouched` does that, given the document's `census`."""
    if _SURROGATE_ESCAPE.search(text):
        return CAREFUL
    try:
        return json.loads(text, parse_constant=_unusual, parse_float=_finite)
    except (ValueError, RecursionError, _Unusual):  # JSONDecodeError, an int too long, …
        return CAREFUL


def plain_value(text: str) -> Any:
    """The value `json.loads` makes of a text where the careful parse would refuse
    nothing in it but nesting (which `census` finds), else CAREFUL: `plain_parse`, each
    object's keys compared as it is made."""
    if _SURROGATE_ESCAPE.search(text):
        return CAREFUL
    try:
        return json.loads(
            text, object_pairs_hook=_distinct, parse_constant=_unusual, parse_float=_finite
        )
    except (ValueError, RecursionError, _Unusual):
        return CAREFUL


def vouched(text: str, document: Any, keys: int | None) -> Any:
    """The plain parse's `document` of `text` where its census (`keys`, the keys its
    objects hold, None where they nest too deep) leaves nothing to refuse; the text parsed
    again comparing each object's keys where it has more colons than keys (a key given
    twice, or a colon inside a string); CAREFUL where the careful parse must look."""
    if keys is None:
        return CAREFUL
    if keys == text.count(":"):
        return document
    return plain_value(text)  # the parser compares each object's keys


def census(containers: Iterable[Any], depth: int = 0) -> int | None:
    """How many keys the objects among `containers`, and the lists and objects within
    them, hold; None where one lies MAX_DEPTH levels deep (`containers` lie
    `depth` levels down; the document itself is at 0). One level at a time: no path is
    kept, nothing is said."""
    keys = 0
    level = list(containers)
    for _ in range(MAX_DEPTH + 1 - depth):
        if not level:
            return keys
        below: list[Any] = []
        add = below.append
        for container in level:
            if type(container) is dict:
                keys += len(container)
                values = container.values()
            elif type(container) is list:
                values = container
            else:  # a document that is not a container
                continue
            for value in values:
                kind = type(value)
                if kind is dict or kind is list:
                    add(value)
        level = below
    return None  # a list or object at depth MAX_DEPTH: the careful parse refuses it


def _refusals(document: Any) -> list[str]:
    """Every _Refused, lone surrogate and over-deep nesting, in file order, by place.

    The walk keeps its own stack instead of recursing, so no depth can crash it.
    """
    problems: list[str] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        surrogate = lone_surrogate(value) if isinstance(value, str) else None
        if isinstance(value, _Refused):
            problems.append(_at(path, value.reason))
        elif surrogate:
            problems.append(_at(path, f"has {surrogate}, {_SURROGATE}"))
        elif isinstance(value, (dict, list)):
            if len(path) >= MAX_DEPTH:
                problems.append(_at(path[:2], _TOO_DEEP))
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend(reversed([(path + (key,), item) for key, item in items]))
    return problems


def _at(path: tuple[str | int, ...], message: str) -> str:
    place = ""
    for key in path:
        place = f"{place}[{key}]" if isinstance(key, int) else key_place(place, key)
    return f"{place}: {message}" if place else message


def _clip(text: str, length: int = 20) -> str:
    return text if len(text) <= length else text[:length] + "…"
