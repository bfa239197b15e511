"""Every worked case of seed-cases.md, exactly, from the example projects."""

from __future__ import annotations

import pytest

from designer.core.propagate import analyse
from designer.io.project import load
from tests.conftest import EXAMPLES
from tests.helpers import example, outputs

# (example, output shape of each output node in file order, total params)
SIZE_CASES = [
    ("seed-01-conv-k5", [(32, 510, 510)], 832),
    ("seed-02-conv-k3", [(32, 256, 256)], 2_336),
    ("seed-03-conv-k5-same-size", [(32, 32, 32)], 25_632),
    ("seed-04-two-conv-k3", [(32, 32, 32)], 18_496),
    ("seed-05-conv-256-to-512", [(512, 32, 32)], 1_180_160),
    ("seed-06-bottleneck-1x1", [(512, 32, 32)], 156_192),
    ("seed-07-conv-padding-same", [(512, 128, 128)], 147_968),
    ("seed-08-conv-stride2-floor", [(512, 63, 63)], 410_112),
    ("seed-09-convtranspose-s2", [(16, 255, 255)], 4_624),
    ("seed-10-conv-k3-small", [(1, 4, 4)], 10),
    ("seed-11-conv-dilated", [(1, 6, 6)], 10),
    ("seed-12-convtranspose-k2", [(1, 3, 3)], 5),
    ("seed-13-convtranspose-k3-s2", [(1, 5, 5)], 10),
    ("seed-14-pools-max-avg", [(1, 2, 2), (1, 2, 2)], 0),
    ("seed-15-maxpool-k2", [(5, 2, 2)], 0),
    ("seed-16-linear", [(2,)], 10),
    ("seed-17-conv-10-filters", [(10, 4, 4)], 280),
    ("seed-18-alexnet-stem", [(96, 27, 27)], 34_944),
    ("seed-19-inception-naive", [(672, 28, 28)], None),
    ("seed-20-inception-reduced", [(480, 28, 28)], None),
    ("espcn", [(1, 192, 192)], 22_729),
    ("upsampling-three-ways", [(1, 6, 6), (1, 5, 5), (1, 6, 6)], 20),
    ("mistake-template", [(3, 16, 16)], None),
]


@pytest.mark.parametrize(("name", "shapes", "params"), SIZE_CASES, ids=[c[0] for c in SIZE_CASES])
def test_output_shapes_and_params(
    name: str, shapes: list[tuple[int, ...]], params: int | None
) -> None:
    arch, engine = example(name)
    assert [engine.results[n].shape for n in outputs(arch)] == shapes
    assert engine.totals().errors == 0
    if params is not None:
        assert engine.totals().params == params


def _params_of(name: str) -> list[int]:
    arch, engine = example(name)
    return [engine.results[n.id].params for n in arch.nodes() if engine.results[n.id].params]


def test_split_parameter_counts() -> None:
    assert _params_of("seed-06-bottleneck-1x1") == [8_224, 147_968]
    assert _params_of("espcn") == [1_664, 18_464, 2_601]
    assert _params_of("seed-04-two-conv-k3") == [9_248, 9_248]


def test_alexnet_stem_intermediate_shape() -> None:
    arch, engine = example("seed-18-alexnet-stem")
    conv = next(n.id for n in arch.nodes() if n.type == "Conv2d")
    assert engine.results[conv].shape == (96, 55, 55)


@pytest.mark.parametrize(
    ("name", "rf"),
    [("seed-03-conv-k5-same-size", 5), ("seed-04-two-conv-k3", 5), ("seed-11-conv-dilated", 5)],
)
def test_receptive_fields(name: str, rf: int) -> None:
    arch, engine = example(name)
    (last,) = outputs(arch)
    assert [f.size for f in engine.results[last].fields] == [rf, rf]


def test_receptive_field_grows_by_two_per_3x3_conv() -> None:
    from tests.helpers import chain

    conv = ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1})
    for count, rf in ((1, 3), (2, 5), (3, 7)):
        engine = analyse(chain((4, 16, 16), *[conv] * count))
        assert engine.results[f"l{count}"].fields[0].size == rf


@pytest.mark.parametrize(
    ("name", "macs"),
    [("seed-19-inception-naive", 854_196_224), ("seed-20-inception-reduced", 271_351_808)],
)
def test_inception_macs(name: str, macs: int) -> None:
    _, engine = example(name)
    assert engine.totals().macs == macs


def test_flops_follow_the_notes_formula() -> None:
    """2·Cin·k·k·Cout·Hout·Wout for a conv with bias, 2·in·out for a Linear with bias."""
    _, conv = example("seed-17-conv-10-filters")
    assert conv.totals().flops == 2 * 3 * 3 * 3 * 10 * 4 * 4
    _, linear = example("seed-16-linear")
    assert linear.totals().flops == 2 * 4 * 2


def test_floor_warning_on_seed_8() -> None:
    _, engine = example("seed-08-conv-stride2-floor")
    (warning,) = engine.results["conv"].warnings
    assert "(128 + 2 − 5)/2 + 1 = 63.5 floors to 63" in warning
    assert warning.startswith("along H and W")


def test_the_mistake_works_when_channels_are_inferred() -> None:
    arch, engine = example("mistake-template")
    sizes = [engine.results[n.id].shape[1] for n in arch.nodes() if n.type == "Conv2d"]
    assert sizes == [28, 24, 20, 16]


def test_the_shipped_mistake_shows_on_its_first_layer() -> None:
    _, engine = example("mistake-template-as-written")
    assert engine.results["conv1"].error == "in_channels is 1 in the design, but the input has 3"
    assert engine.totals().errors == 1


def test_the_mistake_is_flagged_when_in_channels_is_written_down() -> None:
    text = (EXAMPLES / "mistake-template.nnd").read_text()
    text = text.replace(
        '"out_channels": 20, "kernel_size": 5}',
        '"in_channels": 1, "out_channels": 20, "kernel_size": 5}',
        1,
    )
    from designer.io.project import loads

    engine = analyse(loads(text).arch)
    assert engine.results["conv1"].error == "in_channels is 1 in the design, but the input has 3"
    assert engine.results["relu4"].blocked_by == "conv1"
    assert engine.results["input"].error is None


@pytest.mark.parametrize(
    ("name", "params", "macs"),
    [
        ("alexnet", 61_100_840, 714_188_480),
        ("vgg16", 138_357_544, 15_470_264_320),
        ("resnet18", 11_689_512, 1_814_073_344),
    ],
)
def test_published_totals(name: str, params: int, macs: int) -> None:
    engine = analyse(load(EXAMPLES / f"{name}.nnd").arch)
    totals = engine.totals()
    assert (totals.params, totals.macs, totals.errors) == (params, macs, 0)


def test_only_the_examples_meant_to_show_a_mistake_have_errors() -> None:
    from tests.conftest import EXAMPLES, MISTAKES

    for path in sorted(EXAMPLES.glob("*.nnd")):
        _, engine = example(path.stem)
        assert (engine.totals().errors > 0) == (path.stem in MISTAKES), path.stem
