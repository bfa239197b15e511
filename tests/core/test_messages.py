"""Errors and warnings a user sees: on the right node, naming the numbers, the rest intact."""

from __future__ import annotations

import pytest

from designer.core.edits import Connect, RemoveNode, SetParams
from designer.core.graph import Architecture, GraphError, NodeRecord
from designer.core.params import ParamError
from designer.core.propagate import Engine, analyse
from tests.helpers import chain


def test_cycle_is_refused_and_nothing_changes() -> None:
    arch = chain((3, 8, 8), ("ReLU", {}), ("ReLU", {}))
    with pytest.raises(GraphError, match="would make a cycle: 'l1' already feeds 'l2'"):
        arch.connect("l2", "l1", 1)
    with pytest.raises(GraphError, match="would make a cycle"):
        arch.connect("l1", "l1", 1)
    assert len(arch.edges()) == 2


def test_taken_port_is_refused() -> None:
    arch = chain((3, 8, 8), ("ReLU", {}))
    with pytest.raises(GraphError, match="input port 0 of 'l1' is taken by 'input'"):
        arch.connect("input", "l1", 0)


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        (
            "Conv2d",
            {"out_channels": 4, "kernel_size": 0},
            "kernel_size: must be a positive int or a list of 2 positive ints, got 0",
        ),
        (
            "Conv2d",
            {"out_channels": 4, "kernel_size": 3, "stride": 0},
            "stride: must be a positive int or a list of 2 positive ints, got 0",
        ),
        (
            "Conv2d",
            {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": "same"},
            "padding: 'same' needs stride 1 (PyTorch refuses it), got stride 2",
        ),
        (
            "Conv2d",
            {"out_channels": 6, "kernel_size": 3, "groups": 4},
            "groups: 4 does not divide out_channels 6",
        ),
        (
            "ConvTranspose2d",
            {"out_channels": 4, "kernel_size": 3, "stride": 2, "output_padding": 2},
            "output_padding: 2 must be smaller than stride 2 or dilation 1",
        ),
        (
            "Upsample",
            {"size": 8, "scale_factor": 2.0},
            "scale_factor: give size or scale_factor, not both (size 8, scale_factor 2.0)",
        ),
        (
            "MaxPool2d",
            {"kernel_size": 3, "padding": 2},
            "padding: 2 must be at most half of kernel_size 3",
        ),
        ("Conv2d", {"kernel_size": 3}, "out_channels: is required (a positive int)"),
        (
            "Hardtanh",
            {"min_val": 2.0},
            "max_val: 1.0 must be greater than the lower bound 2.0 (PyTorch refuses it)",
        ),
        ("CELU", {"alpha": 0}, "alpha: cannot be 0 (CELU divides by it; PyTorch refuses it)"),
        ("Linear", {"out_features": 4, "bias": 1}, "bias: must be true or false, got 1"),
    ],
)
def test_refused_parameters_name_the_parameter_and_numbers(
    kind: str, params: dict, message: str
) -> None:
    arch = chain((8, 16, 16))
    with pytest.raises(ParamError) as refused:
        arch.add_node(NodeRecord("x", kind, params))
    assert str(refused.value) == message
    assert "x" not in arch


def _two_branches(left: dict, right: dict, merge: str = "Add") -> Architecture:
    arch = Architecture("branches")
    arch.add_node(NodeRecord("input", "Input", {"shape": [3, 32, 32]}))
    arch.add_node(NodeRecord("left", "Conv2d", left))
    arch.add_node(NodeRecord("right", "Conv2d", right))
    arch.add_node(NodeRecord("merge", merge, {}))
    arch.add_node(NodeRecord("after", "ReLU", {}))
    arch.add_node(NodeRecord("side", "ReLU", {}))
    for source, target, port in [
        ("input", "left", 0),
        ("input", "right", 0),
        ("left", "merge", 0),
        ("right", "merge", 1),
        ("merge", "after", 0),
        ("input", "side", 0),
    ]:
        arch.connect(source, target, port)
    return arch


def test_shape_mismatch_shows_on_the_merge_and_the_rest_keeps_results() -> None:
    arch = _two_branches(
        {"out_channels": 8, "kernel_size": 3}, {"out_channels": 16, "kernel_size": 1}
    )
    results = analyse(arch).results
    assert (
        results["merge"].error
        == "Add needs inputs of one shape: port 0 is 8x30x30, port 1 is 16x32x32"
    )
    assert results["after"].blocked_by == "merge" and results["after"].output is None
    assert results["left"].shape == (8, 30, 30)
    assert results["right"].shape == (16, 32, 32)
    assert results["side"].shape == (3, 32, 32)


def test_fixing_the_mismatch_clears_the_error_downstream() -> None:
    arch = _two_branches(
        {"out_channels": 8, "kernel_size": 3}, {"out_channels": 16, "kernel_size": 1}
    )
    engine = Engine(arch)
    engine.refresh()
    SetParams.with_param(arch, "right", "out_channels", 8).apply(arch)
    SetParams.with_param(arch, "right", "kernel_size", 3).apply(arch)
    changed = engine.refresh()
    assert {"right", "merge", "after"} <= changed and "side" not in changed
    assert engine.results["after"].shape == (8, 30, 30)


def test_concat_mismatch_names_the_dimension() -> None:
    arch = _two_branches(
        {"out_channels": 8, "kernel_size": 3},
        {"out_channels": 16, "kernel_size": 1},
        merge="Concat",
    )
    assert analyse(arch).results["merge"].error == (
        "Concat along dim 1 needs every other dimension equal: port 0 is 8x30x30, port 1 is 16x32x32 "
        "(dimension 2: 30 against 32)"
    )


def test_groups_that_do_not_divide_the_inferred_channels() -> None:
    arch = chain((6, 8, 8), ("Conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 4}))
    assert analyse(arch).results["l1"].error == (
        "in_channels 6 (from the input 6x8x8) is not divisible by groups 4"
    )


def test_linear_works_on_the_last_dimension_of_a_feature_map() -> None:
    """As torch's: every leading dimension is a batch of rows (a token sequence [L, E])."""
    result = analyse(chain((64, 7, 7), ("Linear", {"out_features": 10}))).results["l1"]
    assert result.error is None
    assert (result.shape, result.params, result.macs) == ((64, 7, 10), 80, 64 * 7 * 7 * 10)


def test_output_smaller_than_one() -> None:
    arch = chain((3, 4, 4), ("Conv2d", {"out_channels": 2, "kernel_size": 5}))
    assert analyse(arch).results["l1"].error == (
        "kernel_size 5 is larger than the padded input 4 (4 + 0 padding) along H"
    )


def test_unconnected_and_extra_inputs() -> None:
    arch = chain((3, 8, 8), ("ReLU", {}))
    arch.add_node(NodeRecord("sum", "Add", {}))
    arch.connect("l1", "sum", 1)
    arch.add_node(NodeRecord("lonely", "Conv2d", {"out_channels": 2, "kernel_size": 1}))
    arch.connect("input", "l1", None)  # port 1 of a one-input layer
    results = analyse(arch).results
    assert results["sum"].error == "input port 0 is not connected"
    assert results["lonely"].error == "input port 0 is not connected"
    assert results["l1"].error == "ReLU takes 1 input, but 2 are connected"


def test_teaching_warnings() -> None:
    arch = chain(
        (3, 32, 32),
        ("Conv2d", {"out_channels": 8, "kernel_size": 3}),
        ("BatchNorm2d", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 20}),
        ("Dropout", {}),
        ("Linear", {"out_features": 10}),
    )
    results = analyse(arch).results
    assert results["l1"].warnings == (
        "bias is cancelled by the BatchNorm2d that follows (l2): bias=False saves 8 parameters",
    )
    assert results["l6"].warnings == (
        "follows Linear l4 with no activation between: the two make one linear map",
    )
    assert results["l4"].warnings == ()


def test_receptive_field_larger_than_the_input_is_said_once() -> None:
    conv = ("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1})
    results = analyse(chain((1, 6, 6), conv, conv, conv, conv)).results
    assert results["l2"].warnings == ()
    assert results["l3"].warnings == (
        "receptive field is larger than the input (7 > 6 along H, 7 > 6 along W): its edges see only padding",
    )
    assert results["l4"].warnings == ()


def test_unaligned_paths_are_flagged() -> None:
    arch = _two_branches(
        {"out_channels": 8, "kernel_size": 3, "padding": 1},
        {"out_channels": 8, "kernel_size": 2, "padding": "same"},
    )
    (warning,) = analyse(arch).results["merge"].warnings
    assert warning.startswith(
        "paths not aligned: the inputs have first units centred at input pixel 0 and 0.5"
    )


def test_removing_a_node_blocks_its_consumers_until_undone() -> None:
    arch = chain((3, 8, 8), ("ReLU", {}), ("ReLU", {}))
    engine = Engine(arch)
    engine.refresh()
    removal = RemoveNode("l1")
    removal.apply(arch)
    engine.refresh()
    assert "l1" not in engine.results
    assert engine.results["l2"].error == "input port 0 is not connected"
    removal.revert(arch)
    engine.refresh()
    assert engine.results["l2"].shape == (3, 8, 8)


def test_edit_that_changes_nothing_downstream_stops_there() -> None:
    conv = ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1})
    arch = chain((3, 16, 16), conv, ("ReLU", {}), conv, ("ReLU", {}))
    engine = Engine(arch)
    engine.refresh()
    SetParams.with_param(arch, "l1", "bias", False).apply(arch)
    assert engine.refresh() == {"l1"}
    Connect("input", "l2", None).apply(arch)  # a second input: l2 errs, l3 and l4 wait
    assert engine.refresh() == {"l2", "l3", "l4"}


def test_one_value_per_group_is_flagged() -> None:
    arch = chain((4, 1, 1), ("GroupNorm", {"num_groups": 4}))
    (warning,) = analyse(arch).results["l1"].warnings
    assert warning == (
        "each group holds a single value (4 channels in 4 groups of 4x1x1): PyTorch refuses that for a batch of 1"
    )


@pytest.mark.parametrize(
    ("shape", "kind", "params", "message"),
    [
        (
            (3, 5),
            "ReflectionPad1d",
            {"padding": [5, 0]},
            (
                "padding [5, 0] is 5 on one side of L 5: reflection padding must be smaller than "
                "the input on each side"
            ),
        ),
        (
            (3, 4, 4),
            "CircularPad2d",
            {"padding": [0, 0, 5, 0]},
            (
                "padding [0, 0, 5, 0] is 5 on one side of H 4: circular padding wraps around at "
                "most once, so it takes at most the input's size on each side"
            ),
        ),
        (
            (3, 5),
            "ConstantPad1d",
            {"padding": [-4, -2], "value": 1.0},
            "padding [-4, -2] crops 6 from L 5, more than there is (PyTorch crops before it pads)",
        ),
        (
            (3, 1, 1),
            "InstanceNorm2d",
            {},
            (
                "InstanceNorm2d normalises each channel over its own values, and the input 3x1x1 "
                "has one per channel: PyTorch refuses that (it needs more than 1 spatial element)"
            ),
        ),
        (
            (6, 4),
            "PReLU",
            {"num_parameters": 4},
            "num_parameters 4 must be 1 or the input's channels, 6 (the input is 6x4)",
        ),
        (
            (6, 5),
            "GLU",
            {},
            "GLU halves dim -1, which has size 5 in the input 6x5: it must be even",
        ),
        (
            (6, 4),
            "ChannelShuffle",
            {"groups": 4},
            "channels 6 (from the input 6x4) are not divisible by groups 4",
        ),
        (
            (6, 4),
            "ELU",
            {"alpha": 1e39},
            (
                "alpha 1e+39 is beyond ±3.40282e+38, the range of float32, which PyTorch converts "
                "it to: PyTorch refuses it"
            ),
        ),
    ],
)
def test_input_dependent_refusals_name_the_numbers(
    shape: tuple[int, ...], kind: str, params: dict, message: str
) -> None:
    arch = chain(shape, (kind, params))
    assert analyse(arch).results["l1"].error == message


def test_circular_padding_that_overlaps_itself_warns_of_a_batch_of_one() -> None:
    arch = chain((1, 2), ("CircularPad1d", {"padding": [-1, 2]}))
    result = analyse(arch).results["l1"]
    assert result.shape == (1, 3)
    assert result.warnings == (
        (
            "the wrap-around along L overlaps what it copies: with one channel, PyTorch refuses "
            "it for a batch of 1"
        ),
    )


def test_a_global_pool_is_meant_to_see_everything() -> None:
    """A global average pool after a padded 5×5 convolution covers the whole image and the
    padding ring: that is what it is for, so no "larger than the input" warning (it showed
    on the MobileNetV3 block's squeeze). A 3×3 convolution on a 1×1 map still warns."""
    conv = ("Conv2d", {"out_channels": 2, "kernel_size": 5, "padding": 2})
    pool = ("AdaptiveAvgPool2d", {"output_size": 1})
    results = analyse(chain((2, 8, 8), conv, pool)).results
    assert [f.size for f in results["l2"].fields] == [12, 12]
    assert results["l2"].warnings == ()
    tiny = analyse(
        chain((2, 1, 1), ("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}))
    )
    assert tiny.results["l1"].warnings == (
        "receptive field is larger than the input (3 > 1 along H, 3 > 1 along W): its edges see only padding",
    )
