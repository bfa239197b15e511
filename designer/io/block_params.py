"""The params of a block found by import: the values that differ between a class's uses
become params (one per set of values that differ alike), and a value that is a whole
multiple or part of another's in every use is written as an expression of it
(`out_channels * 4`), as a person writing the class would."""

from __future__ import annotations

import json
import keyword
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

Slot = tuple[int, str]  # a member (by index) and one of its params


def solve_params(
    vectors: Mapping[Slot, tuple[Any, ...]], local: Sequence[str]
) -> tuple[dict[str, tuple[Any, ...]], dict[Slot, dict[str, str]]]:
    """The block params (name → value in each use) and each member value that differs
    between uses as an expression of them: values that differ alike are one param, a
    whole multiple (or part) of the values of a param of the same name (a conv's
    out_channels of another's) is written as one."""
    firsts: list[tuple[Slot, tuple[Any, ...]]] = []
    seen: dict[str, int] = {}
    given: dict[Slot, tuple[int, str]] = {}
    for slot, vector in vectors.items():
        if all(value == vector[0] for value in vector):
            continue
        text = json.dumps(vector, sort_keys=True)
        if text in seen:
            given[slot] = (seen[text], "")
            continue
        relation = _relation(vector, [v if k == slot[1] else () for (_, k), v in firsts])
        if relation is None:
            seen[text] = len(firsts)
            relation = (len(firsts), "")
            firsts.append((slot, vector))
        given[slot] = relation
    names = _param_names([slot for slot, _ in firsts], local)
    params = {name: vector for name, (_, vector) in zip(names, firsts)}
    return params, {slot: {"expr": names[i] + tail} for slot, (i, tail) in given.items()}


def _relation(vector: tuple[Any, ...], bases: list[tuple[Any, ...]]) -> tuple[int, str] | None:
    """(base, ' * 4') where `vector` is 4 times a base's values in every use, (base,
    ' // 2') where it is half of them; None where none. An empty base is none to compare."""
    if not all(type(v) is int and v > 0 for v in vector):
        return None
    for index, base in enumerate(bases):
        if not base or not all(type(b) is int and b > 0 for b in base):
            continue
        times = {v // b if v % b == 0 else 0 for v, b in zip(vector, base)}
        if len(times) == 1 and min(times) > 1:
            return index, f" * {times.pop()}"
        part = {b // v if b % v == 0 else 0 for v, b in zip(vector, base)}
        if len(part) == 1 and min(part) > 1:
            return index, f" // {part.pop()}"
    return None


def _param_names(slots: Sequence[Slot], local: Sequence[str]) -> list[str]:
    """A name per block param: the layer's own name for it (out_channels, stride) where
    one param has it, else with the member's id before it (conv1_out_channels)."""
    counts = Counter(key for _, key in slots)
    taken: set[str] = set()
    names = []
    for k, key in slots:
        name = re.sub(r"\W", "_", key if counts[key] == 1 else f"{local[k]}_{key}")
        if not name.isidentifier() or keyword.iskeyword(name):
            name = f"p_{name}"
        names.append(fresh_name(name, taken, "_"))
    return names


def fresh_name(base: str, taken: set[str], joiner: str = "") -> str:
    """`base`, or `base2` (`base_1` with joiner '_') where taken; the name is taken."""
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}{joiner}{number - 1 if joiner else number}"
    taken.add(name)
    return name
