"""The `designer` command (contract section 2): the window, or headless reports and checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from designer.core.analysis import DTYPE_BYTES, Settings
from designer.core.propagate import Engine, analyse
from designer.export import pytorch, report
from designer.export.verify import TorchMissing, verify
from designer.io.project import Project, ProjectError, load

EXIT_OK, EXIT_UNREADABLE, EXIT_DESIGN_ERRORS, EXIT_VERIFY_FAILED = 0, 1, 2, 3
_COMMANDS = ("report", "check", "export")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in _COMMANDS:
        return _headless(args)
    parser = argparse.ArgumentParser(
        prog="designer",
        description="Design neural networks by drawing them. Commands: "
        + ", ".join(_COMMANDS)
        + " (designer COMMAND --help).",
    )
    parser.add_argument("file", nargs="?", type=Path, help="a project file (.nnd) to open")
    options = parser.parse_args(args)
    from designer.ui.app import run  # Qt is loaded only for the window

    return run(options.file)


def _headless(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="designer")
    commands = parser.add_subparsers(dest="command", required=True)

    report_parser = commands.add_parser("report", help="per-layer report of a project")
    report_parser.add_argument("file", type=Path)
    report_parser.add_argument("--format", choices=report.FORMATS, default="csv")
    report_parser.add_argument("-o", "--output", type=Path, help="write here instead of standard output")
    _settings_options(report_parser)

    check_parser = commands.add_parser("check", help="list errors and warnings, one a line")
    check_parser.add_argument("file", type=Path)
    _settings_options(check_parser)

    export_parser = commands.add_parser("export", help="write the design as a PyTorch module")
    export_parser.add_argument("file", type=Path)
    export_parser.add_argument("-o", "--output", type=Path, required=True)
    export_parser.add_argument("--class-name", help="the nn.Module's name (default: from the design's name)")
    export_parser.add_argument("--verify", action="store_true", help="run it in torch and compare every node")
    export_parser.set_defaults(batch_size=1, dtype="float32")

    options = parser.parse_args(args)
    project = _open(options.file)
    if project is None:
        return EXIT_UNREADABLE
    engine = analyse(project.arch, Settings(options.batch_size, options.dtype))
    if options.command == "report":
        return _report(engine, options)
    if options.command == "export":
        return _export(project, engine, options)
    return _check(engine)


def _settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=_positive_int, default=1, help="for memory figures")
    parser.add_argument("--dtype", choices=list(DTYPE_BYTES), default="float32", help="for memory figures")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _open(path: Path) -> Project | None:
    """Load a project, or say in one line on standard error why it cannot be read."""
    try:
        project = load(path)
    except ProjectError as error:
        print(f"designer: {path}: {error}", file=sys.stderr)
        return None
    for note in project.notes:
        print(f"designer: {path}: note: {note}", file=sys.stderr)
    return project


def _report(engine: Engine, options: argparse.Namespace) -> int:
    text = report.render(engine, options.format)
    if options.output is None:
        sys.stdout.write(text)
    else:
        try:
            options.output.write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"designer: cannot write {options.output}: {error.strerror}", file=sys.stderr)
            return EXIT_UNREADABLE
    return EXIT_DESIGN_ERRORS if engine.totals().errors else EXIT_OK


def _check(engine: Engine) -> int:
    errors = 0
    for node_id in report.report_order(engine):
        result = engine.results[node_id]
        if result.error:
            errors += 1
            print(f"error: {node_id}: {result.error}")
        elif result.blocked_by:
            print(f"error: {node_id}: {result.reason}")
        for warning in result.warnings:
            print(f"warning: {node_id}: {warning}")
    totals = engine.totals()
    print(
        f"{len(engine.results)} nodes, {errors} with errors, {totals.blocked} waiting on them, "
        f"{totals.warnings} warnings"
    )
    return EXIT_DESIGN_ERRORS if errors else EXIT_OK


def _export(project: Project, engine: Engine, options: argparse.Namespace) -> int:
    try:
        exported = pytorch.export(project.arch, engine, options.class_name)
    except pytorch.ExportError as error:
        print(f"designer: {options.file}: not exported, the design has errors: {error}", file=sys.stderr)
        return EXIT_DESIGN_ERRORS
    try:
        options.output.write_text(exported.source, encoding="utf-8")
    except OSError as error:
        print(f"designer: cannot write {options.output}: {error.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    if not options.verify:
        return EXIT_OK
    try:
        differences = verify(exported, project.arch, engine)
    except TorchMissing as error:
        print(f"designer: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    for line in differences:
        print(f"difference: {line}")
    if differences:
        return EXIT_VERIFY_FAILED
    print(f"verified: torch agrees on every node of {exported.class_name}")
    return EXIT_OK
