"""The `designer` command (contract section 2): the window, or headless reports and checks.

Whatever a file or an argument holds, a headless command ends with one of the contract's
exit statuses and never a traceback: a usage error is 1 (2 is kept for designs with errors),
ids and names reach the terminal with their control characters escaped, a reader that
stops early (`designer check FILE | head -1`) ends the output quietly, and a failed write
is one line on standard error. Files given with `-o` are written atomically and never over
the file being read.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import stat
import sys
from collections.abc import Iterable
from itertools import compress, islice
from operator import attrgetter
from pathlib import Path
from typing import NoReturn

from designer.core.analysis import RUN_DTYPES, Settings
from designer.core.params import clip_text, printable
from designer.core.propagate import Engine, analyse
from designer.export import block_export, pytorch, report
from designer.export.verify import TorchMissing, VerifyRefused, verify
from designer.io.project import Project, ProjectError, load, save
from designer.io.project_writer import write_atomically

EXIT_OK, EXIT_UNREADABLE, EXIT_DESIGN_ERRORS, EXIT_VERIFY_FAILED = 0, 1, 2, 3
_COMMANDS = ("report", "check", "export", "import")
MAX_NOTES = 50  # notes printed about one file; the rest are counted


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but a usage error exits 1: the contract keeps 2 for designs with
    errors. Its message is escaped, since it may quote what was typed."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNREADABLE, f"{self.prog}: error: {printable(clip_text(message))}\n")


class _OutputFailed(Exception):
    """Standard output could not be written (not a closed pipe: a full disk, say)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


def command() -> NoReturn:
    """The `designer` command and `python -m designer`: `main`, its status the process's.
    It is the process's entry: a headless command that read a design ends the process as
    soon as it is done (`_end_if_asked`), where `main` returns, for callers that go on."""
    global _END_AT_ONCE
    _END_AT_ONCE = True
    sys.exit(main())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in _COMMANDS:
        return _headless(args)
    parser = _Parser(
        prog="designer",
        description="Design neural networks by drawing them. Commands: "
        + ", ".join(_COMMANDS)
        + " (designer COMMAND --help).",
    )
    parser.add_argument("file", nargs="?", type=Path, help="a project file (.nnd) to open")
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    options = _parse(parser, args)
    if isinstance(options, int):
        return options
    from designer.ui.app import run  # Qt is loaded only for the window

    return run(options.file)


class _Version(argparse.Action):
    """--version: `designer 0.1.0` on standard output, exit 0. The version is looked up
    only when asked for (reading package metadata slows every start)."""

    def __call__(self, parser, namespace, values, option_string=None) -> NoReturn:
        import designer

        _write_out(f"designer {designer.__version__}\n")
        parser.exit(EXIT_OK)


def _parse(parser: argparse.ArgumentParser, args: list[str]) -> argparse.Namespace | int:
    """The options, or the exit status argparse chose (0 after --help, 1 on a usage error)."""
    try:
        return parser.parse_args(args)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_UNREADABLE


def _headless(args: list[str]) -> int:
    options = _parse(_headless_parser(), args)
    if isinstance(options, int):
        return options
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show a name's letters
        try:  # gets them as escapes, not a UnicodeEncodeError
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass
    # The cycle collector is off while a command runs: a large design is millions of
    # objects, none of them garbage, which every full collection would walk.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(options)
    except BrokenPipeError:  # the reader has gone (`| head -1`): nothing more to say
        _detach_stdout()
        return getattr(options, "status", EXIT_OK)
    except _OutputFailed as failure:
        _detach_stdout()
        _complain(f"cannot write to standard output: {_reason(failure.error)}")
        return EXIT_UNREADABLE
    except MemoryError:
        _complain("out of memory: the design is too large for this machine")
        return EXIT_UNREADABLE
    finally:
        if was_enabled:
            gc.enable()


def _headless_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="designer")
    commands = parser.add_subparsers(dest="command", required=True)

    report_parser = commands.add_parser("report", help="per-layer report of a project")
    report_parser.add_argument("file", type=Path)
    report_parser.add_argument("--format", choices=report.FORMATS, default="csv")
    report_parser.add_argument(
        "-o", "--output", type=Path, help="write here instead of standard output"
    )
    report_parser.add_argument(
        "--expand",
        action="store_true",
        help="after each block instance's row, its inner layers' rows (ids as paths)",
    )
    _settings_options(report_parser)

    check_parser = commands.add_parser("check", help="list errors and warnings, one a line")
    check_parser.add_argument("file", type=Path)
    _settings_options(check_parser)

    export_parser = commands.add_parser("export", help="write the design as a PyTorch module")
    export_parser.add_argument("file", type=Path)
    export_parser.add_argument("-o", "--output", type=Path, required=True)
    export_parser.add_argument(
        "--class-name", help="the nn.Module's name (default: from the design's name)"
    )
    export_parser.add_argument(
        "--verify", action="store_true", help="run it in torch and compare every node"
    )
    export_parser.set_defaults(batch_size=1, dtype=None)

    import_parser = commands.add_parser("import", help="trace a PyTorch model into a project file")
    import_parser.add_argument("model", help="FILE.py:CLASS (this runs FILE.py)")
    import_parser.add_argument(
        "--input",
        action="append",
        required=True,
        help="an input shape, e.g. 3x224x224; a dtype after a colon, 100:int64 for token ids",
    )
    import_parser.add_argument("--args", default="{}", help="keyword arguments for CLASS, as JSON")
    import_parser.add_argument("-o", "--output", type=Path, required=True)
    import_parser.add_argument(
        "--flat",
        action="store_true",
        help="every layer at the top level: the model's own classes not kept as blocks",
    )
    return parser


def _run(options: argparse.Namespace) -> int:
    if options.command == "import":
        return _import(options)
    output = getattr(options, "output", None)
    if output is not None and _same_file(output, options.file):
        _complain(f"{output}: is the file being read; choose another -o")
        return EXIT_UNREADABLE
    project = _open(options.file)
    if project is None:
        return EXIT_UNREADABLE
    engine = analyse(project.arch, Settings(options.batch_size, options.dtype))
    if options.command == "report":
        status = _report(project, engine, options)
    elif options.command == "export":
        status = _export(project, engine, options)
    else:
        status = _check(engine, options)
    _end_if_asked(status)  # (the design still held here: nothing is freed)
    return status


_END_AT_ONCE = False  # set by `command`: the process ends as soon as a command is done


def _end_if_asked(status: int) -> None:
    """End the process with `status` at once where `command` runs it. A large design is
    millions of objects, and freeing them one by one (a second of a 10⁶-node check) only
    hands back memory the system takes back whole at exit; mypy ends the same way. Output
    is flushed first; files were written and closed by the command itself."""
    if not _END_AT_ONCE:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # (None under pythonw): nothing
            pass  # more can be said, and the status stands
    os._exit(status)


def _settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=_positive_int, default=1, help="for memory figures")
    parser.add_argument(
        "--dtype",
        choices=RUN_DTYPES,
        default=None,
        help="the number format the network runs in, for memory figures "
        "(default: each input's own dtype)",
    )


MAX_BATCH = 2**63 - 1  # torch's sizes are int64


def _positive_int(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_BATCH:
        raise argparse.ArgumentTypeError(
            f"must be from 1 to 2**63 − 1, got {clip_text(text.strip(), 30)}"
        )
    return value


# output -----------------------------------------------------------------------------------


def _write_out(text: str) -> None:
    """Write to standard output now. A closed pipe raises BrokenPipeError (the command
    ends quietly); any other failure _OutputFailed (one line on standard error)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise _OutputFailed(error) from None


def _write_lines(lines: Iterable[str]) -> None:
    """Lines to standard output, in pieces of a few thousand (a large design's check is
    hundreds of thousands of lines; they are not all held as one string)."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == 4096:
            _write_out("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        _write_out("\n".join(batch) + "\n")


def _detach_stdout() -> None:
    """Point standard output at the null device, so that what is still buffered there is
    dropped at exit instead of failing again (as Python's documentation advises for
    SIGPIPE). Standard output that is not a file descriptor (a test's capture) is left."""
    try:
        descriptor = sys.stdout.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):
        return
    os.dup2(null, descriptor)
    os.close(null)


def _complain(message: str) -> None:
    """One line on standard error; where even that cannot be written, nothing."""
    try:
        print(f"designer: {printable(message)}", file=sys.stderr)
    except (OSError, ValueError):
        pass


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _same_file(output: Path, source: Path) -> bool:
    """Whether writing `output` would replace `source` (the same path, a link to it, or a
    second name of the same file)."""
    try:
        return os.path.samefile(output, source)
    except (OSError, ValueError):  # either does not exist (or cannot be looked at)
        return False


def _write_file(path: Path, text: str) -> bool:
    """Write `text` to `path` atomically (a temporary file beside it, then a rename, so a
    full disk leaves the old file as it was); a device or a pipe (-o /dev/stdout) is
    written directly. False, with one line said, where it cannot be written."""
    data = text.encode("utf-8")
    try:
        try:
            special = not stat.S_ISREG(os.stat(path).st_mode)
        except FileNotFoundError:
            special = False
        if special:
            with open(path, "wb") as handle:
                handle.write(data)
        else:
            write_atomically(path, data)
    except OSError as error:
        _complain(f"cannot write {path}: {_reason(error)}")
        return False
    return True


# commands ---------------------------------------------------------------------------------


def _open(path: Path) -> Project | None:
    """Load a project, or say in one line on standard error why it cannot be read."""
    try:
        project = load(path)
    except ProjectError as error:
        _complain(f"{path}: {error}")
        return None
    except RecursionError:  # the loader walks without recursion; kept as a last resort
        _complain(f"{path}: lists and objects nested too deeply to read")
        return None
    notes = project.notes
    for note in notes[:MAX_NOTES]:
        _complain(f"{path}: note: {note}")
    if len(notes) > MAX_NOTES:
        _complain(f"{path}: note: … and {len(notes) - MAX_NOTES:,} more notes")
    return project


def _report(project: Project, engine: Engine, options: argparse.Namespace) -> int:
    options.status = EXIT_DESIGN_ERRORS if engine.totals().errors else EXIT_OK
    text = report.render(engine, options.format, project.blocks, options.expand)
    if options.output is None:
        _write_out(text)
    elif not _write_file(options.output, text):
        return EXIT_UNREADABLE
    return options.status


def _check(engine: Engine, options: argparse.Namespace) -> int:
    totals = engine.totals()
    options.status = EXIT_DESIGN_ERRORS if totals.errors else EXIT_OK
    _write_lines(_check_lines(engine, totals.errors + totals.blocked + totals.warnings))
    _write_out(
        f"{len(engine.results)} nodes, {totals.errors} with errors, "
        f"{totals.blocked} waiting on them, {totals.warnings} warnings\n"
    )
    return options.status


_SAYS = attrgetter("error", "blocked_by", "warnings")  # what a check lists about a node


def _check_lines(engine: Engine, said: int) -> Iterable[str]:
    """One line per error and warning, in report order, control characters escaped. The
    order is worked out only where more than one node has something to say. `said` is
    how many errors and warnings the totals count: where at most one, the search for the
    node that has it stops there."""
    results = engine.results
    flagged = compress(results, map(any, map(_SAYS, results.values())))  # in C
    flagged = list(islice(flagged, 1) if said <= 1 else flagged)
    if len(flagged) > 1:
        flagged = report.report_order(engine)
    for node_id in flagged:
        result = results[node_id]
        if result.error:
            yield printable(f"error: {node_id}: {result.error}")
        elif result.blocked_by:
            yield printable(f"error: {node_id}: {result.reason}")
        for warning in result.warnings:
            yield printable(f"warning: {node_id}: {warning}")


def _export(project: Project, engine: Engine, options: argparse.Namespace) -> int:
    """A design with blocks is written with a class per block, any other as one module."""
    design = project.blocks
    try:
        if design is None:
            exported = pytorch.export(project.arch, engine, options.class_name)
        else:
            exported = block_export.export_blocks(
                design.nodes, design.edges, design.library, engine, design.flat, options.class_name
            )
    except pytorch.ExportError as error:
        _complain(f"{options.file}: not exported, the design has errors: {error}")
        return EXIT_DESIGN_ERRORS
    if not _write_file(options.output, exported.source):
        return EXIT_UNREADABLE
    if not options.verify:
        return EXIT_OK
    try:
        differences = verify(exported, project.arch, engine)
    except (TorchMissing, VerifyRefused) as error:
        _complain(str(error))
        return EXIT_UNREADABLE
    options.status = EXIT_VERIFY_FAILED if differences else EXIT_OK
    _write_lines(printable(f"difference: {line}") for line in differences)
    if not differences:
        _write_out(
            printable(f"verified: torch agrees on every node of {exported.class_name}") + "\n"
        )
    return options.status


def _import(options: argparse.Namespace) -> int:
    from designer.io import pytorch_import

    file_name, _, class_name = options.model.rpartition(":")
    try:
        if not file_name or not class_name:
            raise pytorch_import.ImportFailure(
                f"{clip_text(repr(options.model))}: write the model as FILE.py:CLASS"
            )
        if _same_file(options.output, Path(file_name)):
            raise pytorch_import.ImportFailure(
                f"{options.output}: is the model's own file; choose another -o"
            )
        arguments = _import_arguments(options.args, pytorch_import.ImportFailure)
        inputs = [pytorch_import.parse_input(text) for text in options.input]
        notes: list[str] = []
        project = pytorch_import.import_project(
            Path(file_name),
            class_name,
            [shape for shape, _ in inputs],
            arguments,
            notes=notes,
            input_dtypes=[dtype for _, dtype in inputs],
            flat=options.flat,
        )
    except pytorch_import.Unsupported as error:
        _complain(f"nothing written: {clip_text(str(error), 2000)}")
        return EXIT_DESIGN_ERRORS
    except pytorch_import.ImportFailure as error:
        _complain(clip_text(str(error), 2000))
        return EXIT_UNREADABLE
    try:
        save(options.output, project.arch, blocks=project.blocks)
    except OSError as error:
        _complain(f"cannot write {options.output}: {_reason(error)}")
        return EXIT_UNREADABLE
    for note in notes[:MAX_NOTES]:
        _complain(f"note: {clip_text(note, 2000)}")
    if len(notes) > MAX_NOTES:
        _complain(f"note: … and {len(notes) - MAX_NOTES:,} more notes")
    errors = analyse(project.arch).totals().errors
    if errors:
        _complain(f"imported with {errors} node(s) in error; see designer check {options.output}")
    return EXIT_OK


def _import_arguments(text: str, failure: type[Exception]) -> dict:
    """--args as a dict of keyword arguments, or `failure` saying why not."""
    try:
        arguments = json.loads(text)
    except json.JSONDecodeError as error:
        raise failure(f"--args is not JSON: {error.msg}") from None
    except RecursionError:
        raise failure("--args: lists and objects nested too deeply") from None
    if not isinstance(arguments, dict):
        raise failure("--args must be a JSON object of keyword arguments")
    return arguments
