"""The broken-file corpus: every file must be refused with exactly the problems it was
written to show, and the command line must say so in one line, never with a traceback.

tests/io/broken/expected.json maps each file name to its `ProjectError.problems`; a changed
message is a deliberate edit of that file, so users' error messages never drift unnoticed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from designer import cli
from designer.io.project import ProjectError, load

BROKEN = Path(__file__).resolve().parent / "broken"
EXPECTED: dict[str, list[str]] = json.loads((BROKEN / "expected.json").read_text(encoding="utf-8"))
FILES = sorted(path.name for path in BROKEN.glob("*.nnd"))
# Starting Python costs a few tenths of a second: a handful of files go through a real
# process (`python -m designer`, exit status, what reaches the streams); the rest in-process.
IN_A_PROCESS = [
    "binary.nnd",
    "lone-surrogate.nnd",
    "nested-100000.nnd",
    "params-key-with-newline.nnd",
    "several-problems.nnd",
    "truncated.nnd",
]


def test_the_corpus_is_large_and_every_file_has_its_expected_problems() -> None:
    assert len(FILES) >= 30
    assert sorted(EXPECTED) == FILES
    assert all(EXPECTED[name] for name in FILES)


@pytest.mark.parametrize("name", FILES)
def test_load_refuses_with_exactly_the_expected_problems(name: str) -> None:
    with pytest.raises(ProjectError) as caught:
        load(BROKEN / name)
    assert caught.value.problems == EXPECTED[name]
    assert str(caught.value) == "; ".join(EXPECTED[name])


@pytest.mark.parametrize("command", ["check", "report"])
@pytest.mark.parametrize("name", FILES)
def test_the_command_says_why_in_one_line(
    name: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = BROKEN / name
    assert cli.main([command, str(path)]) == 1
    out, err = capsys.readouterr()
    _assert_one_line_reason(out, err, path, EXPECTED[name])


@pytest.mark.parametrize("command", ["check", "report"])
@pytest.mark.parametrize("name", IN_A_PROCESS)
def test_the_command_in_its_own_process(name: str, command: str) -> None:
    path = BROKEN / name
    run = subprocess.run(
        [sys.executable, "-m", "designer", command, str(path)],
        capture_output=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    out, err = run.stdout.decode("utf-8"), run.stderr.decode("utf-8")
    assert run.returncode == 1, err
    _assert_one_line_reason(out, err, path, EXPECTED[name])


def _assert_one_line_reason(out: str, err: str, path: Path, problems: list[str]) -> None:
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err == f"designer: {path}: {'; '.join(problems)}\n"
    assert problems[0] in err
