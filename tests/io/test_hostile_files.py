"""Hostile files that open: numbers no float can hold, axes beyond three, ids that are
terminal commands or spreadsheet formulas. `check` must say exactly what
tests/io/broken/loads/expected.json holds, `report` must agree with it in every format,
and neither may end in a traceback.

Files that cannot be opened at all (not regular, too large) are here too; the refused
hostile files (positions off the canvas, ids too long, scale factors beyond 2**63, …) are
in the broken-file corpus beside this folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from designer import cli
from designer.io import json_text
from designer.io.project import ProjectError, load

LOADS = Path(__file__).resolve().parent / "broken" / "loads"
EXPECTED: dict[str, dict] = json.loads((LOADS / "expected.json").read_text(encoding="utf-8"))
FILES = sorted(path.name for path in LOADS.glob("*.nnd"))
CONTROL = {chr(c) for c in range(32)} | {chr(c) for c in range(0x7F, 0xA0)} | {"\u202e"}


def test_every_file_has_its_expected_check() -> None:
    assert sorted(EXPECTED) == FILES
    assert len(FILES) >= 10


@pytest.mark.parametrize("name", FILES)
def test_check_says_what_the_file_was_written_to_show(name: str, capsys) -> None:
    status = cli.main(["check", str(LOADS / name)])
    out, err = capsys.readouterr()
    assert (status, out.splitlines()) == (EXPECTED[name]["status"], EXPECTED[name]["check"])
    assert err == ""
    assert not CONTROL & set(out.replace("\n", ""))


def _errors_said_by_check(name: str) -> int:
    return sum(line.startswith("error: ") for line in EXPECTED[name]["check"])


@pytest.mark.parametrize("name", FILES)
def test_report_agrees_with_check_in_every_format(name: str, capsys) -> None:
    path = LOADS / name
    nodes = len(load(path).arch)
    status = EXPECTED[name]["status"]

    assert cli.main(["report", str(path)]) == status
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == nodes and err == ""
    assert sum(bool(row["error"]) for row in rows) == _errors_said_by_check(name)

    assert cli.main(["report", str(path), "--format", "json"]) == status
    out, err = capsys.readouterr()
    document = json.loads(out, parse_constant=_no_constant)  # no NaN or Infinity
    assert len(document["nodes"]) == nodes and err == ""
    assert sum(bool(node["error"]) for node in document["nodes"]) == _errors_said_by_check(name)
    for node in document["nodes"]:
        for key in ("rf", "rf_stride", "rf_start"):
            assert all(v is None or math.isfinite(v) for v in node[key] or ())

    assert cli.main(["report", str(path), "--format", "markdown"]) == status
    out, err = capsys.readouterr()
    table = out.split("\n\n")[0].splitlines()
    assert len(table) == nodes + 2 and err == ""
    assert table[1] == "|" + "---|" * 17
    assert all(line.startswith("| ") and line.endswith(" |") for line in table[:1] + table[2:])
    assert not CONTROL & set(out.replace("\n", ""))


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} in a JSON report")


def test_a_stride_product_beyond_any_float_saturates(capsys) -> None:
    """Seventeen strides of 2**62 multiply to 2**1054: the jump is carried as a float
    past 2**63 and becomes inf past the largest float (it crashed the float arithmetic of
    the centres: an int too large for a float)."""
    path = LOADS / "pool-stride-2-to-the-62.nnd"
    assert cli.main(["report", str(path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[-1]["rf"] == "1x1" and rows[-1]["rf_stride"] == "infxinf"
    assert rows[2]["rf_stride"] == "2.12676e+37x2.12676e+37"
    assert cli.main(["report", str(path), "--format", "json"]) == 0
    last = json.loads(capsys.readouterr().out)["nodes"][-1]
    assert last["rf"] == [1, 1] and last["rf_stride"] == [None, None]


def test_adaptive_pooling_keeping_an_axis_of_2_to_the_40_is_immediate(capsys) -> None:
    """An axis that keeps its size is windows of width 1: counted, not walked (walking
    2**40 windows never ended)."""
    assert (
        cli.main(["report", str(LOADS / "adaptive-keeps-a-long-axis.nnd"), "--format", "json"]) == 0
    )
    pool = json.loads(capsys.readouterr().out)["nodes"][1]
    assert pool["output_shape"] == [1, 2**40, 2]
    assert pool["flops"] == 2**40 * 4
    assert pool["rf"] == [1, 2]


# files that are not files -------------------------------------------------------------


def _one_line(err: str, path: Path, message: str) -> None:
    assert err == f"designer: {path}: {message}\n"


@pytest.mark.parametrize("command", ["check", "report"])
def test_a_folder_is_refused_in_one_line(tmp_path: Path, command: str, capsys) -> None:
    assert cli.main([command, str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    _one_line(err, tmp_path, "cannot read the file: it is a folder, not a regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused_before_a_byte_is_read(capsys) -> None:
    assert cli.main(["check", "/dev/zero"]) == 1
    _one_line(
        capsys.readouterr().err,
        Path("/dev/zero"),
        "cannot read the file: it is a character device, not a regular file",
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "net.nnd"
    os.mkfifo(fifo)
    run = subprocess.run(
        [sys.executable, "-m", "designer", "check", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1 and run.stdout == ""
    _one_line(run.stderr, fifo, "cannot read the file: it is a named pipe, not a regular file")


def test_a_file_above_the_size_limit_is_refused_unread(tmp_path: Path, capsys) -> None:
    path = tmp_path / "huge.nnd"
    with path.open("wb") as handle:  # sparse: no disk is used
        handle.truncate(json_text.MAX_FILE_BYTES + 1)
    assert cli.main(["check", str(path)]) == 1
    _one_line(
        capsys.readouterr().err,
        path,
        "the file is 256.0 MiB, more than the 256 MiB a project file may be",
    )


def test_a_file_that_grows_past_the_limit_while_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "net.nnd"
    path.write_text("{}")
    monkeypatch.setattr(json_text, "MAX_FILE_BYTES", 1)
    with pytest.raises(ProjectError) as caught:
        load(path)
    assert caught.value.problems == [
        "the file is 0.0 MiB, more than the 0 MiB a project file may be"
    ]
