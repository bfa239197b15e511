"""The `designer` command: report formats, check, and exit statuses (contract section 2)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from designer.cli import main
from designer.export.report import COLUMNS
from tests.conftest import EXAMPLES

BROKEN_DESIGN = """{
  "format": "nn-designer-project", "version": 1, "name": "mismatch",
  "nodes": [
    {"id": "input", "type": "Input", "params": {"shape": [3, 32, 32]}},
    {"id": "a", "type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3}},
    {"id": "b", "type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 1}},
    {"id": "sum", "type": "Add"},
    {"id": "relu", "type": "ReLU"}
  ],
  "edges": [
    {"source": "input", "target": "a"}, {"source": "input", "target": "b"},
    {"source": "a", "target": "sum", "port": 0}, {"source": "b", "target": "sum", "port": 1},
    {"source": "sum", "target": "relu"}
  ]
}"""


@pytest.fixture
def broken_design(tmp_path: Path) -> Path:
    path = tmp_path / "mismatch.nnd"
    path.write_text(BROKEN_DESIGN)
    return path


@pytest.mark.parametrize(
    ("name", "params", "macs"),
    [
        ("alexnet", 61_100_840, 714_188_480),
        ("vgg16", 138_357_544, 15_470_264_320),
        ("resnet18", 11_689_512, 1_814_073_344),
    ],
)
def test_report_totals_of_published_networks(name: str, params: int, macs: int, capsys) -> None:
    assert main(["report", str(EXAMPLES / f"{name}.nnd"), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["totals"]["params"] == params
    assert document["totals"]["macs"] == macs
    assert sum(row["params"] for row in document["nodes"]) == params
    assert sum(row["macs"] for row in document["nodes"]) == macs


def test_csv_columns_and_rows(capsys) -> None:
    assert main(["report", str(EXAMPLES / "seed-08-conv-stride2-floor.nnd")]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0][: len(COLUMNS)]) == COLUMNS
    conv = dict(zip(rows[0], rows[2]))
    assert conv["output_shape"] == "512x63x63"
    assert (conv["params"], conv["rf"], conv["rf_stride"], conv["error"]) == (
        "410112",
        "5x5",
        "2x2",
        "",
    )


def test_fractional_stride_after_upsampling(capsys) -> None:
    assert main(["report", str(EXAMPLES / "espcn.nnd")]) == 0
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["shuffle"]["rf_stride"] == "0.333333x0.333333"
    assert rows["sigmoid"]["output_shape"] == "1x192x192"


def test_report_rows_follow_topological_then_file_order(capsys) -> None:
    assert main(["report", str(EXAMPLES / "seed-19-inception-naive.nnd"), "--format", "json"]) == 0
    ids = [row["id"] for row in json.loads(capsys.readouterr().out)["nodes"]]
    assert ids[0] == "input" and ids[-1] == "concat"


def test_markdown_report_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    assert (
        main(["report", str(EXAMPLES / "lenet5.nnd"), "--format", "markdown", "-o", str(out)]) == 0
    )
    text = out.read_text()
    assert text.startswith("| id | name | type | output_shape |")
    assert "| params | 61,706 |" in text


def test_memory_follows_batch_and_dtype(capsys) -> None:
    main(
        [
            "report",
            str(EXAMPLES / "seed-16-linear.nnd"),
            "--format",
            "json",
            "--batch-size",
            "8",
            "--dtype",
            "float16",
        ]
    )
    document = json.loads(capsys.readouterr().out)
    linear = document["nodes"][1]
    assert linear["memory"] == 2 * 8 * 2
    assert document["totals"]["param_memory"] == 10 * 2


def test_report_of_a_design_with_errors_exits_2_and_still_writes(
    broken_design: Path, capsys
) -> None:
    assert main(["report", str(broken_design), "--format", "json"]) == 2
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)["nodes"]}
    assert (
        rows["sum"]["error"]
        == "Add needs inputs of one shape: port 0 is 8x30x30, port 1 is 8x32x32"
    )
    assert rows["sum"]["output_shape"] is None
    assert rows["relu"]["error"] == "waits on sum, which has an error"
    assert rows["a"]["output_shape"] == [8, 30, 30] and rows["b"]["error"] == ""


NUMBER_KEYS = ("params", "macs", "flops", "memory", "non_trainable")


@pytest.mark.parametrize("format", ["csv", "markdown", "json"])
def test_nodes_without_results_have_no_numbers(broken_design: Path, format: str, capsys) -> None:
    """An error, and what waits on it, count nothing: empty cells and nulls, never 0s that
    read as figures (issue 11, item 14). Nodes with results keep theirs, 0 included."""
    assert main(["report", str(broken_design), "--format", format]) == 2
    out = capsys.readouterr().out
    if format == "json":
        rows = {row["id"]: row for row in json.loads(out)["nodes"]}
        for node_id in ("sum", "relu"):
            assert [rows[node_id][key] for key in NUMBER_KEYS] == [None] * 5
        assert rows["a"]["params"] > 0 and rows["input"]["params"] == 0
        return
    if format == "csv":
        table = list(csv.DictReader(io.StringIO(out)))
    else:
        lines = [
            [c.strip() for c in line.split("|")[1:-1]] for line in out.split("\n\n")[0].splitlines()
        ]
        table = [dict(zip(lines[0], line)) for line in lines[2:]]
    rows = {row["id"]: row for row in table}
    for node_id in ("sum", "relu"):
        assert [rows[node_id][key] for key in NUMBER_KEYS] == [""] * 5
    assert int(rows["a"]["params"]) > 0 and rows["input"]["params"] == "0"


def test_check_lists_problems_by_node(broken_design: Path, capsys) -> None:
    assert main(["check", str(broken_design)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "error: sum: Add needs inputs of one shape: port 0 is 8x30x30, port 1 is 8x32x32"
    )
    assert lines[1] == "error: relu: waits on sum, which has an error"


def test_check_passes_with_warnings(capsys) -> None:
    assert main(["check", str(EXAMPLES / "seed-08-conv-stride2-floor.nnd")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("warning: conv: along H and W, (128 + 2 − 5)/2 + 1 = 63.5 floors to 63")


def test_unreadable_file_exits_1_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.nnd"
    result = subprocess.run(
        [sys.executable, "-m", "designer", "report", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"designer: {missing}: cannot read the file")


# never a traceback, never lost work (issue 12) ---------------------------------------------

HOSTILE = Path(__file__).resolve().parent / "io" / "broken" / "loads"
CONTROL_IDS = HOSTILE / "ids-with-control-characters.nnd"


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "designer", *args],
        capture_output=True,
        check=False,
        timeout=120,
        **kwargs,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["report"],
        ["check"],
        ["check", "a.nnd", "--nope"],
        ["report", "a.nnd", "--format", "xml"],
        ["report", "a.nnd", "--batch-size", "0"],
        ["report", "a.nnd", "--batch-size", "9" * 5000],
        ["report", "a.nnd", "--batch-size", "9" * 4299],
        ["check", "a.nnd", "--batch-size", str(2**63)],
        ["export", "a.nnd"],
        ["import", "m.py:M"],
        ["--bogus"],
    ],
)
def test_a_usage_error_exits_1_not_2(args: list[str], capsys) -> None:
    """2 is the contract's 'the design has errors'; a command line it cannot read is 1."""
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert out == "" and "error:" in err and "Traceback" not in err


def test_help_still_exits_0(capsys) -> None:
    assert main(["check", "--help"]) == 0
    assert "usage: designer check" in capsys.readouterr().out


def test_a_usage_error_in_its_own_process_exits_1() -> None:
    run = _run("report", "x.nnd", "--format", "\x1b[2Jxml")
    assert run.returncode == 1
    assert b"\x1b" not in run.stderr and b"\\x1b[2Jxml" in run.stderr


def test_check_escapes_control_characters_in_ids(capsys) -> None:
    assert main(["check", str(CONTROL_IDS)]) == 2
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "error: \\x1b[2Jc\\u202e: kernel_size 9 is larger than the padded input 4 "
        "(4 + 0 padding) along H"
    )
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out


def test_error_lines_escape_the_path(tmp_path: Path, capsys) -> None:
    path = tmp_path / "a\nb\x1b[2J.nnd"
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "a\\nb\\x1b[2J.nnd" in err


def test_csv_neutralises_formulas_in_user_text_only(capsys) -> None:
    assert main(["report", str(CONTROL_IDS)]) == 2
    rows = {
        row["type"] + row["id"][:2]: row
        for row in csv.DictReader(io.StringIO(capsys.readouterr().out))
    }
    relu = rows["ReLU'="]
    assert relu["id"] == "'=cmd|' /C calc'!A0" and relu["name"] == "'+1+1"
    second = rows["ReLU'@"]
    assert second["id"] == "'@SUM(1)" and second["name"] == "'-2"
    conv = next(row for row in rows.values() if row["type"] == "Conv2d")
    assert conv["rf_start"] == "" and conv["name"] == "<b>bold</b> & | pipe \\ back"
    inputs = next(row for row in rows.values() if row["type"] == "Input")
    assert inputs["id"] == "in\nput"  # quoted by the csv module, one row
    assert rows["ReLU'="]["rf_start"] == "0x0"


def test_negative_numbers_the_designer_writes_are_not_neutralised(capsys) -> None:
    assert main(["report", str(EXAMPLES / "resnet18.nnd")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert any(row["rf_start"].startswith("-") for row in rows)
    assert not any(cell.startswith("'") for row in rows for cell in row.values())


def test_csv_cells_say_what_the_csv_says(capsys) -> None:
    from designer.core.propagate import analyse
    from designer.export import report
    from designer.io.project import load

    engine = analyse(load(CONTROL_IDS).arch)
    expected = [report.csv_cells(report.row(engine, n)) for n in report.report_order(engine)]
    assert list(csv.reader(io.StringIO(report.to_csv(engine))))[1:] == expected
    assert report.cells(report.row(engine, "@SUM(1)"))[0] == "@SUM(1)"  # the window's


def test_markdown_escapes_line_breaks_html_and_pipes(capsys) -> None:
    assert main(["report", str(CONTROL_IDS), "--format", "markdown"]) == 2
    out = capsys.readouterr().out
    table = out.split("\n\n")[0].splitlines()
    assert len(table) == 2 + 4
    assert "| in\\nput | line\\rbreak\\x1b[2J | Input |" in table[2]
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; \\| pipe \\\\ back" not in out  # > stays
    assert "&lt;b>bold&lt;/b> &amp; \\| pipe \\\\ back" in table[3]
    assert "<b>" not in out and "\x1b" not in out


def test_check_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`designer check FILE | head -1`: no BrokenPipeError traceback, the design's status."""
    path = tmp_path / "many.nnd"
    nodes = [{"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}}]
    for i in range(3000):
        kind = "Conv2d" if i % 2 == 0 else "BatchNorm2d"
        params = {"out_channels": 3, "kernel_size": 1} if kind == "Conv2d" else {}
        nodes.append({"id": f"n{i}", "type": kind, "params": params})
    ids = [n["id"] for n in nodes]
    edges = [{"source": a, "target": b} for a, b in itertools.pairwise(ids)]
    path.write_text(
        json.dumps({"format": "nn-designer-project", "version": 2, "nodes": nodes, "edges": edges})
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "designer", "check", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read()
    status = process.wait(timeout=120)
    assert first.startswith(b"warning: n0: bias is cancelled")
    assert err == b"" and status == 0


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("command", ["check", "report"])
def test_a_full_standard_output_is_one_line(command: str) -> None:
    with open("/dev/full", "wb") as full:
        run = subprocess.run(
            [sys.executable, "-m", "designer", command, str(EXAMPLES / "resnet18.nnd")],
            stdout=full,
            stderr=subprocess.PIPE,
            check=False,
            timeout=120,
        )
    assert run.returncode == 1
    assert run.stderr == b"designer: cannot write to standard output: No space left on device\n"


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "relative"])
@pytest.mark.parametrize("command", [["report"], ["report", "--format", "json"], ["export"]])
def test_o_onto_the_input_is_refused(
    tmp_path: Path, how: str, command: list[str], capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "net.nnd"
    original = (EXAMPLES / "lenet5.nnd").read_bytes()
    path.write_bytes(original)
    output = {"same": path, "relative": Path("net.nnd")}.get(how, tmp_path / "out")
    if how == "symlink":
        output.symlink_to(path)
    elif how == "hardlink":
        os.link(path, output)
    monkeypatch.chdir(tmp_path)
    assert main([command[0], str(path), *command[1:], "-o", str(output)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"designer: {output}: is the file being read; choose another -o\n"
    assert path.read_bytes() == original


def test_import_o_onto_the_model_file_is_refused(tmp_path: Path, capsys) -> None:
    model = tmp_path / "net.py"
    model.write_text("raise SystemExit('the model must not run')\n")
    assert main(["import", f"{model}:Net", "--input", "3x8x8", "-o", str(model)]) == 1
    err = capsys.readouterr().err
    assert err == f"designer: {model}: is the model's own file; choose another -o\n"
    assert model.read_text() == "raise SystemExit('the model must not run')\n"


@pytest.mark.parametrize(
    "args",
    ["[" * 5000 + "]" * 5000, '{"a": ' * 5000 + "1" + "}" * 5000],
    ids=["lists", "objects"],
)
def test_import_args_nested_too_deeply_is_one_line(tmp_path: Path, args: str, capsys) -> None:
    model = tmp_path / "net.py"
    model.write_text("")
    out = tmp_path / "net.nnd"
    assert main(["import", f"{model}:Net", "--input", "3x8x8", "--args", args, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == "designer: --args: lists and objects nested too deeply\n"
    assert not out.exists()


def test_import_of_five_dimensions_is_no_traceback(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    models = Path(__file__).resolve().parent / "io" / "torch_models.py"
    out = tmp_path / "lenet.nnd"
    run = _run("import", f"{models}:LeNet5", "--input", "1x2x3x4x5", "-o", str(out))
    assert run.returncode == 2 and b"Traceback" not in run.stderr
    assert run.stderr.decode().startswith("designer: nothing written: torch_models.py line ")
    assert "module conv1 cannot be run on the example input" in run.stderr.decode()
    assert not out.exists()


def _fail_fsync(descriptor: int) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("command", [["report"], ["report", "--format", "markdown"], ["export"]])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_part(
    tmp_path: Path, command: list[str], capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out.txt"
    output.write_text("the good old report\n")
    monkeypatch.setattr(os, "fsync", _fail_fsync)  # the disk fills as the file is written
    source = str(EXAMPLES / "lenet5.nnd")
    assert main([command[0], source, *command[1:], "-o", str(output)]) == 1
    err = capsys.readouterr().err
    assert err == f"designer: cannot write {output}: No space left on device\n"
    assert output.read_text() == "the good old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_report_and_export_replace_their_file_whole(tmp_path: Path, capsys) -> None:
    output = tmp_path / "out.csv"
    output.write_text("old\n")
    output.chmod(0o640)
    assert main(["report", str(EXAMPLES / "lenet5.nnd"), "-o", str(output)]) == 0
    assert output.read_text().startswith("id,name,type,")
    assert output.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_o_to_a_device_is_written_directly(capsys) -> None:
    assert main(["report", str(EXAMPLES / "lenet5.nnd"), "-o", os.devnull]) == 0
    assert capsys.readouterr().err == ""


def test_stale_temporary_files_of_a_crashed_write_are_removed(tmp_path: Path, capsys) -> None:
    output = tmp_path / "out.csv"
    stale = tmp_path / ".out.csv.0123456789ab.tmp"
    fresh = tmp_path / ".out.csv.ba9876543210.tmp"  # perhaps another save, in progress
    other = tmp_path / ".other.csv.0123456789ab.tmp"  # not this target's
    for path in (stale, fresh, other):
        path.write_text("half a file")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    os.utime(other, (hours_ago, hours_ago))
    assert main(["report", str(EXAMPLES / "lenet5.nnd"), "-o", str(output)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, fresh.name, "out.csv"]


def _design_with_an_error(tmp_path: Path) -> Path:
    path = tmp_path / "mismatch.nnd"
    nodes = [
        {"id": "input", "type": "Input", "params": {"shape": [10]}},
        {"id": "fc", "type": "Linear", "params": {"in_features": 12, "out_features": 4}},
    ]
    edges = [{"source": "input", "target": "fc"}]
    path.write_text(
        json.dumps({"format": "nn-designer-project", "version": 2, "nodes": nodes, "edges": edges})
    )
    return path


@pytest.mark.parametrize(
    "args", [["check"], ["report", "--format", "json"], ["report", "--format", "markdown"]]
)
@pytest.mark.parametrize("design", ["resnet18", "mismatch"])
def test_the_command_ends_at_once_with_everything_said(
    tmp_path: Path, args: list[str], design: str, capsys
) -> None:
    """`python -m designer` ends the process without freeing the design: its output and
    status are main's, flushed in full."""
    path = EXAMPLES / "resnet18.nnd" if design == "resnet18" else _design_with_an_error(tmp_path)
    status = main([*args, str(path)])
    said = capsys.readouterr()
    run = _run(*args, str(path))
    assert run.returncode == status == (2 if design == "mismatch" else 0)
    assert run.stdout.decode() == said.out and len(said.out) > 100
    assert run.stderr.decode() == said.err


def test_the_command_ends_at_once_after_writing_a_file(tmp_path: Path) -> None:
    target = tmp_path / "net.py"
    run = _run("export", str(EXAMPLES / "resnet18.nnd"), "-o", str(target))
    assert run.returncode == 0 and run.stderr == b""
    assert "class" in target.read_text() and not list(tmp_path.glob(".*.tmp"))


def test_the_command_ends_at_once_without_standard_output(tmp_path: Path) -> None:
    """Under pythonw (or a launcher) standard output may be None: nothing to flush."""
    target = tmp_path / "net.csv"
    script = (
        "import sys; from designer import cli; sys.stdout = None; "
        f"sys.argv = ['designer', 'report', {str(EXAMPLES / 'lenet5.nnd')!r}, "
        f"'-o', {str(target)!r}]; cli.command()"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=False, timeout=120
    )
    assert run.returncode == 0 and run.stderr == b""
    assert target.read_text().startswith("id,name,type")
