"""Custom: an operation the catalog cannot express, kept as the code that does it.

An import meets code that no layer type describes (`torch.roll(x, 1, 2)`, `x.masked_fill(
m, 0)`); rather than stop, it keeps the call as a Custom node: the expression as written,
the shapes and dtypes torch traced it with, and the parameters and MACs torch counted for
it. The engine cannot compute such a node, so its output is the traced one, fixed: an
input of another shape than the traced one is an error naming both, and every Custom
node carries a warning saying its shape was fixed at import.

The code is a single Python expression over the node's inputs, named `x` (one input) or
`x0`, `x1`, … (several), and `m`, the torch.nn module in `module` where the node calls one.
Exported code writes it back as it is. A project file is data, never code that runs when
it is opened, but exported code runs (`designer export --verify` runs it at once), so the
expression is held to a narrow grammar: names are the inputs, `m`, `torch`, `nn` and
`float`; attributes are public tensor methods and functions of torch and its
functional, fft, linalg and special modules, never those that read or write files or
change torch's global state; no lambdas, comprehensions or f-strings.

Shapes are written as the report and `designer import --input` write them: `3x8x8`,
`100:int64` with a dtype other than float32, several joined by `, `.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from designer.core.params import INT64_MAX, Kind, Param, ParamError, show_value
from designer.core.spec import (
    DTYPE_BYTES,
    Function,
    LayerError,
    LayerOutput,
    LayerSpec,
    Shape,
    Tensor,
    dims,
)

CATEGORY = "Custom"
MODULE_NAME = "m"  # the name the code calls `module` by
MAX_CODE = 2000  # characters: a traced call is one line, never a program
_INPUT_NAME = re.compile(r"x(0|[1-9][0-9]*)?")
# torch's namespaces whose functions the code may call (torch.X, torch.nn.functional.X, …),
# and the paths that lead to them
_NAMESPACES = {("torch",), ("nn",), ("torch", "nn", "functional"), ("nn", "functional")} | {
    ("torch", sub) for sub in ("fft", "linalg", "special")
}
_PATHS = {space[:end] for space in _NAMESPACES for end in range(1, len(space) + 1)}
# Attributes that reach beyond computing a tensor: files, the process's global state,
# hooks, other devices, compiled or foreign code.
_FORBIDDEN_WORDS = re.compile(
    r"load|save|file|hub|jit|compile|script|trace|export|onnx|seed|set_|register|hook|"
    r"storage|numpy|tolist|apply|map_|map2_|pin_memory|share_memory|cuda|mps|xpu|backward|"
    r"grad|ops|classes|library|utils|package|backends|distributed|multiprocessing|"
    r"testing|overrides|autograd|serialization|cpp|deterministic|num_threads|printoptions|"
    r"debug|profiler|data_ptr"
)
_CONSTANT_FLOATS = ("inf", "-inf", "nan")
_ALLOWED_NODES = (
    ast.Expression,
    ast.Call,
    ast.Attribute,
    ast.Name,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Subscript,
    ast.Slice,
    ast.UnaryOp,
    ast.BinOp,
    ast.Compare,
    ast.BoolOp,
    ast.keyword,
    ast.Load,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
)


@dataclass(frozen=True)
class _Text(Param):
    """A parameter whose value is a line of text with a grammar of its own (the core's
    Kinds are all numbers, shapes or choices). Declared with a Kind whose editor is a
    plain line edit, which hands back what was typed."""

    grammar: str = "text"

    def check(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and self.grammar == "shapes":
            value = str(value)  # the editor reads a lone "16" as a number
        if not isinstance(value, str):
            raise ParamError(self.name, f"must be {self.describe()}, got {show_value(value)}")
        try:
            return _CANONICAL[self.grammar](value)
        except ValueError as error:
            raise ParamError(self.name, str(error)) from None

    def describe(self) -> str:
        return _DESCRIPTIONS[self.grammar]


def _text(name: str, grammar: str, default: str, **extra: Any) -> Param:
    return _Text(name, Kind.FLOAT_TUPLE, default, grammar=grammar, **extra)


# --- code ---------------------------------------------------------------------------------


def canonical_code(text: str) -> str:
    """The code, checked against the grammar above; a ValueError says what is refused."""
    code = text.strip()
    if not code or "\n" in code or "\r" in code:
        raise ValueError("must be one line of Python: an expression over the inputs")
    if len(code) > MAX_CODE:
        raise ValueError(f"is {len(code):,} characters long; a call is at most {MAX_CODE:,}")
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"is not a Python expression: {error.msg}") from None
    except RecursionError:
        raise ValueError("nests brackets too deeply") from None
    for node in ast.walk(tree):
        _check_code_node(node)
    return code


def _check_code_node(node: ast.AST) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        raise ValueError(f"may not hold {type(node).__name__} ({_shown(node)})")  # noqa: TRY004 (a refused value, not a wrong type)
    if isinstance(node, ast.Name) and not _known_name(node.id):
        raise ValueError(
            f"names its inputs x, or x0, x1, …, the module {MODULE_NAME}, torch and nn; "
            f"{node.id!r} is none of them"
        )
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_") or _FORBIDDEN_WORDS.search(node.attr):
            raise ValueError(f"may not use .{node.attr}")
        path = _dotted(node.value)
        if path is not None and path[0] in ("torch", "nn") and path not in _PATHS:
            raise ValueError(f"may call functions of torch, never {'.'.join(path)}.{node.attr}")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        _check_call_by_name(node)


def _check_call_by_name(node: ast.Call) -> None:
    """`m(x)` and `float("inf")` are the only calls of a bare name."""
    name = node.func.id  # type: ignore[attr-defined]
    if name == MODULE_NAME:
        return
    argument = node.args[0] if len(node.args) == 1 and not node.keywords else None
    if (
        name == "float"
        and isinstance(argument, ast.Constant)
        and argument.value in _CONSTANT_FLOATS
    ):
        return
    raise ValueError(f"may call {name}() only as float('inf'), float('-inf') or float('nan')")


def _known_name(name: str) -> bool:
    return name in ("torch", "nn", "float", MODULE_NAME) or _INPUT_NAME.fullmatch(name) is not None


def _dotted(node: ast.AST) -> tuple[str, ...] | None:
    """`torch.nn.functional` as ("torch", "nn", "functional"); None for anything else."""
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else (*head, node.attr)
    return None


def _shown(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:40]
    except Exception:  # noqa: BLE001 (a fragment ast cannot print is named by its type)
        return type(node).__name__


def input_names(count: int) -> list[str]:
    """What the code calls its inputs: x, or x0, x1, …"""
    return ["x"] if count == 1 else [f"x{i}" for i in range(count)]


def renamed(code: str, names: dict[str, str]) -> str:
    """The code with each name in `names` replaced (an input by the variable holding it),
    the rest of the text as it was written."""
    tree = ast.parse(code, mode="eval")
    spans = sorted(
        (
            (n.col_offset, n.end_col_offset, names[n.id])
            for n in ast.walk(tree)
            if isinstance(n, ast.Name) and n.id in names
        ),
        reverse=True,
    )
    encoded = code.encode()  # ast's offsets count UTF-8 bytes
    for start, end, name in spans:
        encoded = encoded[:start] + name.encode() + encoded[end:]
    return encoded.decode()


# --- shapes -------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def parse_values(text: str) -> tuple[tuple[Shape, str], ...]:
    """'3x8x8, 100:int64' → (((3, 8, 8), 'float32'), ((100,), 'int64'))."""
    values = []
    for part in text.split(","):
        shape_text, _, dtype = part.strip().partition(":")
        dtype = dtype.strip() or "float32"
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"{dtype!r} is not a dtype; write one of {', '.join(DTYPE_BYTES)}")
        try:
            shape = tuple(int(n) for n in shape_text.lower().split("x"))
        except ValueError:
            raise ValueError(
                f"{part.strip()!r} is not a shape: write shapes as 3x8x8 or 100:int64, "
                "joined by commas"
            ) from None
        if min(shape) < 1 or max(shape) > INT64_MAX:
            raise ValueError(f"{part.strip()!r}: every size must be from 1 to 2**63 − 1")
        values.append((shape, dtype))
    return tuple(values)


def values_text(values: Sequence[tuple[Shape, str]]) -> str:
    """The inverse of parse_values."""
    return ", ".join(dims(s) + ("" if d == "float32" else f":{d}") for s, d in values)


def _canonical_values(text: str) -> str:
    return values_text(parse_values(text.strip()))


def _canonical_module(text: str) -> str:
    """A torch.nn module's constructor call, `nn.Bilinear(3, 4, 5)`, or '' for none."""
    if not text.strip():
        return ""
    code = canonical_code(text)
    tree = ast.parse(code, mode="eval").body
    if not (isinstance(tree, ast.Call) and _dotted(tree.func) and _dotted(tree.func)[0] == "nn"):
        raise ValueError(f"must construct a torch.nn module, nn.Name(...), got {code!r}")
    return code


_CANONICAL = {"code": canonical_code, "shapes": _canonical_values, "module": _canonical_module}
_DESCRIPTIONS = {
    "code": "a Python expression over the inputs x (or x0, x1, …) and the module m",
    "shapes": "shapes such as 3x8x8 or 100:int64, joined by commas",
    "module": "a torch.nn module's constructor call, nn.Name(...), or empty for none",
}


# --- the layer ----------------------------------------------------------------------------


def _evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    traced = parse_values(p["inputs"])
    given = tuple((x.shape, x.dtype) for x in inputs)
    if len(given) != len(traced):
        raise LayerError(
            f"the code was traced with {len(traced)} input(s) ({values_text(traced)}), "
            f"it is given {len(given)}"
        )
    for port, (now, then) in enumerate(zip(given, traced)):
        if now != then:
            where = f"input {port}" if len(given) > 1 else "the input"
            raise LayerError(
                f"{where} is {values_text([now])}, but the code was traced with "
                f"{values_text([then])}: a Custom node's shapes are fixed at import"
            )
    (shape, dtype), *more = parse_values(p["outputs"])
    warning = f"output shape fixed at import, as torch traced {p['code']}"
    return LayerOutput(
        shape,
        None,
        params=p["parameters"],
        macs=p["macs"],
        flops=2 * p["macs"],
        warnings=(warning,),
        dtype=dtype,
        more=tuple(Tensor(s, None, d) for s, d in more),
    )


def _slots(p: dict[str, Any]) -> tuple[str, ...]:
    outputs = parse_values(p["outputs"])
    return ("output",) if len(outputs) == 1 else tuple(f"output {i}" for i in range(len(outputs)))


SPECS = [
    LayerSpec(
        "Custom",
        CATEGORY,
        (
            _text("code", "code", "x", required=True, help="as written in the model"),
            _text("inputs", "shapes", "1x1", required=True, help="the input shapes torch traced"),
            _text(
                "outputs",
                "shapes",
                "1x1",
                required=True,
                help="the output shapes torch traced; the output is fixed to these",
            ),
            Param("parameters", Kind.INT, 0, minimum=0, help="as torch counts them"),
            Param("macs", Kind.INT, 0, minimum=0, help="per sample, as torch counts them"),
            _text("module", "module", "", help="the torch.nn module the code calls as m"),
        ),
        _evaluate,
        summary="an operation the catalog cannot express, kept as its code; its output "
        "shape is the one traced at import",
        inputs=(1, None),
        written_as=Function("custom"),
        slots=_slots,
        dtypes="any",
    ),
]
