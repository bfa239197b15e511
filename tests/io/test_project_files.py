"""Saving and loading project files: round trips, atomic saves, keys this version does not read."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from designer.core.graph import Architecture
from designer.io import json_text
from designer.io.project import ProjectError, dumps, load, loads, save
from tests.conftest import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.nnd"))


def _same_design(a: Architecture, b: Architecture) -> None:
    assert a.name == b.name
    assert a.nodes() == b.nodes()
    assert a.edges() == b.edges()


def test_there_are_examples() -> None:
    assert len(EXAMPLE_FILES) >= 5


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_are_written_as_the_saver_writes(path: Path) -> None:
    loaded = load(path)
    assert loaded.notes == []
    assert dumps(loaded.arch, loaded.extras, loaded.blocks) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_save_then_load_gives_the_same_design_and_the_same_bytes(
    path: Path, tmp_path: Path
) -> None:
    first = load(path)
    copy = tmp_path / path.name
    save(copy, first.arch, first.extras, first.blocks)
    second = load(copy)
    _same_design(first.arch, second.arch)
    assert copy.read_bytes() == dumps(first.arch, first.extras, first.blocks).encode("utf-8")
    save(copy, second.arch, second.extras, second.blocks)
    assert copy.read_bytes() == path.read_bytes()


def test_a_failed_replace_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "net.nnd"
    old = (EXAMPLES / "lenet5.nnd").read_bytes()
    target.write_bytes(old)
    arch = load(EXAMPLES / "vgg16.nnd").arch

    def refuse(src: str | os.PathLike, dst: str | os.PathLike) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        save(target, arch)
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.nnd"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "net.nnd"
    old = (EXAMPLES / "lenet5.nnd").read_bytes()
    target.write_bytes(old)

    def crash(descriptor: int) -> None:
        raise KeyboardInterrupt  # even an interrupt half-way must not leave debris

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        save(target, load(EXAMPLES / "vgg16.nnd").arch)
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.nnd"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saving_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "net.nnd"
    target.write_text("{}", encoding="utf-8")
    target.chmod(0o640)
    save(target, load(EXAMPLES / "lenet5.nnd").arch)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_new_file_gets_the_usual_permissions_not_a_temporary_files(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        save(tmp_path / "net.nnd", load(EXAMPLES / "lenet5.nnd").arch)
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "net.nnd").stat().st_mode) == 0o644


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_saving_through_a_link_writes_the_linked_file(tmp_path: Path) -> None:
    real = tmp_path / "real.nnd"
    real.write_text("{}", encoding="utf-8")
    link = tmp_path / "link.nnd"
    link.symlink_to(real)
    arch = load(EXAMPLES / "lenet5.nnd").arch
    save(link, arch)
    assert link.is_symlink()
    assert real.read_text(encoding="utf-8") == dumps(arch)


def _with_extras() -> dict:
    document = json.loads((EXAMPLES / "lenet5.nnd").read_text(encoding="utf-8"))
    document["view"] = {"zoom": 1.5, "centre": [120, -40]}
    document["notes"] = "trained on MNIST, 99.1 %"
    document["nodes"][1]["colour"] = "red"
    document["edges"][0]["label"] = "image"
    return document


def test_unknown_top_level_keys_are_kept_on_save_with_a_note(tmp_path: Path) -> None:
    loaded = loads(json.dumps(_with_extras()))
    assert loaded.extras == {
        "view": {"zoom": 1.5, "centre": [120, -40]},
        "notes": "trained on MNIST, 99.1 %",
    }
    assert loaded.notes == [
        "nodes[1].colour: not read by this version; dropped",
        "edges[0].label: not read by this version; dropped",
        "view: not read by this version; kept as it is when saving",
        "notes: not read by this version; kept as it is when saving",
    ]
    target = tmp_path / "net.nnd"
    save(target, loaded.arch, loaded.extras)
    again = load(target)
    assert again.extras == loaded.extras
    _same_design(again.arch, loaded.arch)
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written["view"] == {"zoom": 1.5, "centre": [120, -40]}
    assert "colour" not in written["nodes"][1]
    assert dumps(again.arch, again.extras) == target.read_text(encoding="utf-8")


def test_an_odd_key_is_named_so_that_a_note_stays_on_one_line() -> None:
    document = _with_extras()
    document["a\nb"] = 1
    note = loads(json.dumps(document)).notes[-1]
    assert note == "['a\\nb']: not read by this version; kept as it is when saving"


def test_null_in_an_optional_field_means_left_out() -> None:
    document = json.loads((EXAMPLES / "lenet5.nnd").read_text(encoding="utf-8"))
    document["name"] = None
    document["nodes"][2].update(name=None, pos=None, params=None)
    loaded = loads(json.dumps(document))
    assert loaded.arch.name == ""
    assert loaded.arch.node(document["nodes"][2]["id"]).params == {}


def test_text_that_is_not_unicode_is_refused_rather_than_unsavable() -> None:
    document = _with_extras()
    text = json.dumps(document).replace("99.1 %", "\\udc80")
    with pytest.raises(ProjectError) as caught:
        loads(text)
    assert caught.value.problems == [
        "notes: has \\udc80, half of a UTF-16 surrogate pair, which is not a character on its own"
    ]


def test_a_byte_order_mark_is_allowed_and_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.nnd"
    path.write_bytes(b"\xef\xbb\xbf" + (EXAMPLES / "lenet5.nnd").read_bytes())
    _same_design(load(path).arch, load(EXAMPLES / "lenet5.nnd").arch)


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_a_file_that_cannot_be_read_says_why(tmp_path: Path, make: str) -> None:
    path = tmp_path / "net.nnd"
    if make == "directory":
        path.mkdir()
    with pytest.raises(ProjectError) as caught:
        load(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("cannot read the file: ")


def _nested(levels: int) -> str:
    """The lenet example with `levels` lists nested under "view": levels + 1 with the document."""
    document = json.loads((EXAMPLES / "lenet5.nnd").read_text(encoding="utf-8"))
    return json.dumps(document)[:-1] + ', "view": ' + "[" * levels + "]" * levels + "}"


def test_nesting_up_to_the_limit_loads_and_one_more_level_is_refused() -> None:
    limit = json_text.MAX_DEPTH
    assert loads(_nested(limit - 1)).extras["view"] is not None
    with pytest.raises(ProjectError) as caught:
        loads(_nested(limit))
    assert caught.value.problems == [
        f"view[0]: lists and objects nested more than {limit} levels deep"
    ]
