"""The `designer` command (contract section 2): the window, or headless reports and checks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from designer.core.analysis import RUN_DTYPES, Settings
from designer.core.propagate import Engine, analyse
from designer.export import pytorch, report
from designer.export.verify import TorchMissing, verify
from designer.io.project import Project, ProjectError, load, save

EXIT_OK, EXIT_UNREADABLE, EXIT_DESIGN_ERRORS, EXIT_VERIFY_FAILED = 0, 1, 2, 3
_COMMANDS = ("report", "check", "export", "import")


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
    report_parser.add_argument(
        "-o", "--output", type=Path, help="write here instead of standard output"
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
        "--input", action="append", required=True, help="an input shape, e.g. 3x224x224"
    )
    import_parser.add_argument("--args", default="{}", help="keyword arguments for CLASS, as JSON")
    import_parser.add_argument("-o", "--output", type=Path, required=True)

    options = parser.parse_args(args)
    if options.command == "import":
        return _import(options)
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
    parser.add_argument(
        "--dtype",
        choices=RUN_DTYPES,
        default=None,
        help="the number format the network runs in, for memory figures "
        "(default: each input's own dtype)",
    )


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
        print(
            f"designer: {options.file}: not exported, the design has errors: {error}",
            file=sys.stderr,
        )
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


def _import(options: argparse.Namespace) -> int:
    from designer.io import pytorch_import

    file_name, _, class_name = options.model.rpartition(":")
    try:
        if not file_name or not class_name:
            raise pytorch_import.ImportFailure(
                f"{options.model!r}: write the model as FILE.py:CLASS"
            )
        try:
            arguments = json.loads(options.args)
        except json.JSONDecodeError as error:
            raise pytorch_import.ImportFailure(f"--args is not JSON: {error.msg}") from None
        if not isinstance(arguments, dict):
            raise pytorch_import.ImportFailure("--args must be a JSON object of keyword arguments")
        shapes = [pytorch_import.parse_shape(text) for text in options.input]
        arch = pytorch_import.import_model(Path(file_name), class_name, shapes, arguments)
    except pytorch_import.Unsupported as error:
        print(f"designer: nothing written: {error}", file=sys.stderr)
        return EXIT_DESIGN_ERRORS
    except pytorch_import.ImportFailure as error:
        print(f"designer: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        save(options.output, arch)
    except OSError as error:
        print(f"designer: cannot write {options.output}: {error.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    errors = analyse(arch).totals().errors
    if errors:
        print(
            f"designer: imported with {errors} node(s) in error; see designer check {options.output}",
            file=sys.stderr,
        )
    return EXIT_OK
