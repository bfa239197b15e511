"""Python identifiers and comments made from user text that must never become code.

Node names and ids come from project files that anyone may have written. Everything
they contribute to generated source passes through here: identifiers are reduced to
lowercase ASCII letters, digits and underscores and kept clear of keywords, builtins,
the generated code's own names and nn.Module's attributes; comment text is escaped to
printable ASCII on one line.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

MAX_IDENTIFIER = 30

# Attributes of torch.nn.Module (dir() of torch 2.13, plus the instance attribute
# `training`): a submodule called `eval` or `to` would break the module. A test keeps
# this list in step with torch.
MODULE_ATTRIBUTES = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)
GENERATED_NAMES = frozenset({"self", "torch", "nn", "x", "model", "outputs", "annotations"})
# Escaped by every Namespace, whatever it reserves: generated code must stay legal Python
# and leave the builtins it might call alone.
LANGUAGE_NAMES = (
    frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
)
RESERVED = LANGUAGE_NAMES | MODULE_ATTRIBUTES | GENERATED_NAMES

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def identifier_stem(text: str, fallback: str) -> str:
    """snake_case ASCII for `text`, or `fallback` where nothing usable is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    stem = _NOT_WORD.sub("_", ascii_text.lower()).strip("_")[:MAX_IDENTIFIER].rstrip("_")
    if not stem:
        stem = fallback
    if stem[0].isdigit():
        stem = f"{fallback}_{stem}"[:MAX_IDENTIFIER].rstrip("_")
    return stem


class Namespace:
    """Hands out unique identifiers that shadow nothing (after torch.fx's _Namespace)."""

    def __init__(self, reserved: frozenset[str] = RESERVED) -> None:
        self._reserved = frozenset(reserved) | LANGUAGE_NAMES
        self._taken = set(self._reserved)

    def claim(self, text: str, fallback: str) -> str:
        stem = identifier_stem(text, fallback)
        name = f"{stem}_" if stem in self._reserved else stem
        counter = 2
        while name in self._taken:
            name = f"{stem}_{counter}"
            counter += 1
        self._taken.add(name)
        return name

    def keep(self, text: str, fallback: str) -> str:
        """`text` itself where it is a free ASCII identifier no longer than a claimed one
        (a node id kept as its attribute, so torch's module path is the node's path), else
        what `claim` makes of it."""
        fine = text.isidentifier() and text.isascii() and len(text) <= MAX_IDENTIFIER
        if fine and text not in self._taken:
            self._taken.add(text)
            return text
        return self.claim(text, fallback)


def class_name(text: str) -> str:
    """The class name: `text` itself if it is a fine ASCII identifier, else CapWords made
    from it (Net where nothing usable is left)."""
    if (
        text.isidentifier()
        and text.isascii()
        and text not in RESERVED
        and len(text) <= MAX_IDENTIFIER
    ):
        return text
    words = identifier_stem(text, "net").split("_")
    kept = [words[0]]
    for word in words[1:]:  # whole words only: "EspcnSubPixel", not "EspcnSubPixelSuperResoluti"
        if sum(map(len, kept)) + len(word) > 20:
            break
        kept.append(word)
    name = "".join(w[:1].upper() + w[1:] for w in kept)
    if name[0].isdigit() or name in RESERVED:
        name = f"Net{name}"
    return name


def comment_text(text: str) -> str:
    """User text safe inside a `#` comment: printable ASCII on a single line."""
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if " " <= c <= "~" else " " for c in escaped)[:200]
