"""A torch.nn module's constructor arguments, read back from the built module.

Most modules keep each argument as an attribute of the same name (Conv2d's stride). A
few keep theirs elsewhere: a Transformer layer's nhead is its self-attention's num_heads,
its dropout a Dropout module. This is where the import reads those, by torch's own
attribute names (torch's layout of its modules, which no layer spec describes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Reader = Callable[[Any], Any]


def _attention_readers() -> dict[str, Reader]:
    return {
        "bias": lambda m: m.in_proj_bias is not None,
        "add_bias_kv": lambda m: m.bias_k is not None,
        "kdim": lambda m: None if m._qkv_same_embed_dim else m.kdim,
        "vdim": lambda m: None if m._qkv_same_embed_dim else m.vdim,
    }


def _transformer_readers() -> dict[str, Reader]:
    return {
        "d_model": lambda m: m.self_attn.embed_dim,
        "nhead": lambda m: m.self_attn.num_heads,
        "dim_feedforward": lambda m: m.linear1.out_features,
        "dropout": lambda m: m.dropout.p,
        "activation": lambda m: _activation_name(m.activation),
        "layer_norm_eps": lambda m: m.norm1.eps,
        "batch_first": lambda m: m.self_attn.batch_first,
        "bias": lambda m: m.linear1.bias is not None,
    }


_READERS: dict[str, dict[str, Reader]] = {
    "MultiheadAttention": _attention_readers(),
    "TransformerEncoderLayer": _transformer_readers(),
    "TransformerDecoderLayer": _transformer_readers(),
}


def _activation_name(activation: Any) -> str | None:
    """F.relu as 'relu', nn.GELU() as 'gelu': the names torch's constructor takes."""
    name = getattr(activation, "__name__", None) or type(activation).__name__
    return name.lower()


def arguments(module: Any, names: list[str]) -> dict[str, Any]:
    """The constructor arguments `names` of `module`, those it lets be read."""
    readers = _READERS.get(type(module).__name__, {})
    found = {}
    for name in names:
        if name in readers:
            found[name] = readers[name](module)
        elif hasattr(module, name):
            found[name] = getattr(module, name)
    return found
