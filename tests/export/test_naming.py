"""Namespace: each namespace keeps clear of its own reserved names, and never of fewer
than Python's keywords and builtins, so generated code stays legal."""

from __future__ import annotations

import keyword

import pytest

from designer.export.naming import RESERVED, Namespace


def test_a_namespace_escapes_its_own_reserved_names() -> None:
    names = Namespace(frozenset({"foo"}))
    assert names.claim("foo", "x") == "foo_"
    assert names.claim("foo", "x") == "foo_2"
    assert names.claim("bar", "x") == "bar"


def test_names_reserved_only_elsewhere_are_free_in_a_namespace_without_them() -> None:
    names = Namespace(frozenset())
    assert "forward" in RESERVED and "self" in RESERVED
    assert names.claim("forward", "x") == "forward"
    assert names.claim("self", "x") == "self"


@pytest.mark.parametrize("word", ["class", "lambda", "import", "match", "print", "len", "type"])
def test_keywords_and_builtins_are_always_escaped(word: str) -> None:
    for reserved in (frozenset(), frozenset({"foo"}), RESERVED):
        name = Namespace(reserved).claim(word, "x")
        assert name.isidentifier() and not keyword.iskeyword(name)
        assert name != word.lower()


def test_the_default_namespace_still_escapes_module_attributes() -> None:
    names = Namespace()
    assert names.claim("eval", "x") == "eval_"
    assert names.claim("forward", "x") == "forward_"
    assert names.claim("forward", "x") == "forward_2"
