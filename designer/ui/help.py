"""The Help menu's pages: keyboard shortcuts (made from the window's own actions), what
the numbers mean (the README's section of that name), and About; and the tooltips that
say what each summary column and each status bar figure is."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QMenuBar,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

import designer

# What the README's "What the numbers mean" says, as the window shows it.
NUMBERS_HTML = """
<h2>What the numbers mean</h2>
<p>Every figure is what PyTorch would give for the same module, per sample unless said.</p>
<h3>params</h3>
<p>Learnable parameters, as <code>sum(p.numel() for p in module.parameters())</code>.
BatchNorm's running statistics are not parameters; they are listed separately as
<b>non-trainable</b> (<code>non_trainable</code>, what Keras calls non-trainable).</p>
<h3>MACs</h3>
<p>Multiply-accumulates of Conv, ConvTranspose and Linear, bias excluded, per sample.
torch's <code>FlopCounterMode</code> reports twice this (it counts a multiply and an add
as two operations). A transposed convolution counts its MACs on the input positions.
Linear counts every leading position; MatMul and attention count their products
(Q·Kᵀ and the weights times V, per head); MultiheadAttention and the Transformer layers
add their projections and feed-forward Linears; RNN/LSTM/GRU count
<code>gates·hidden·(input + H_out)</code> per step, layer and direction. Summed over
ViT-B/16 this is torchvision's 17.564 GFLOPS.</p>
<h3>FLOPs</h3>
<p>Conv, ConvTranspose and Linear: <code>2·macs</code> with a bias,
<code>2·macs − output elements</code> without. Other layers count operations per output
element: activations 1, Softmax/LogSoftmax 3, BatchNorm 2 (folded scale and shift),
GroupNorm/LayerNorm 5, Dropout 1, MaxPool <code>k − 1</code> and AvgPool <code>k</code>
(k = window volume), adaptive pooling one per element read, Add <code>inputs − 1</code>,
Multiply 1, Upsample nearest 0 and interpolating modes <code>2·taps − 1</code> (taps: 2 per
axis for (bi/tri)linear, 4 for bicubic), and nothing for Concat, Flatten, Identity,
PixelShuffle, PixelUnshuffle, ZeroPad2d and Input.</p>
<h3>rf, rf_stride, rf_start</h3>
<p><b>rf</b>: the receptive field of one output unit in input pixels, per spatial axis.
<b>rf_stride</b>: the distance, in input pixels, between neighbouring output units (the
effective stride). <b>rf_start</b>: where the field of the first output unit begins in the
input; negative where it reaches into the padding. Following Araujo, Norris and Sim
(Distill 2019); where branches meet the largest field wins, with a "paths not aligned"
warning where they disagree on stride or centre. An input broadcast along an axis (a
squeeze-and-excitation gate of C×1×1 times C×H×W) widens the field to everything that
input sees, but the stride and centre stay those of the features. After up-sampling the
stride is a fraction. Normalisation layers are treated as pointwise. Flatten, MatMul,
attention, Stack, the recurrent and Transformer layers and Embedding give no field.</p>
<h3>memory</h3>
<p>Output activations in bytes (every output of a layer with several) at the chosen batch
size. Each tensor counts in its own dtype: the Input's <code>dtype</code>, int64 for
pooling indices; the dtype box in the status bar runs the whole network in another number
format, as <code>model.half()</code> would, leaving integer tensors as they are. The
totals add parameter memory.</p>
<h3>How these compare</h3>
<p><b>torchinfo</b> multiplies each module's weight and bias elements by the batch (and
the output positions, for convolutions only): biases count, a Linear over a sequence
counts one position, and products written in <code>forward</code> count nothing.
<b>fvcore</b> counts one per multiply-add of matrix products and convolutions, as here,
but counts zero for operators it has no handle for (scaled dot-product attention, the
recurrent kernels). <b>FlopCounterMode</b> counts twice the MACs, but in torch 2.13 on the
CPU it misses the attention kernel and MultiheadAttention's fast path.</p>
<h3>Warnings that teach</h3>
<p>A stride that does not divide the span (<code>(128 + 2 − 5)/2 + 1 = 63.5</code> floors
to 63), a receptive field larger than the input, a bias cancelled by the BatchNorm right
after it, two Linear layers with no activation between them, merging paths that are not
aligned.</p>
"""

# What each summary column holds, by report column key.
COLUMN_TIPS = {
    "id": "The node's id, unique in the design (the name of its module in exported code)",
    "name": "The node's optional display name",
    "type": "The layer type (the PyTorch module or function it stands for)",
    "output_shape": "The output tensor's shape, batch dimension left out (slot 0's)",
    "params": "Learnable parameters: sum(p.numel() for p in module.parameters())",
    "macs": "Multiply-accumulates per sample, of Conv, ConvTranspose and Linear, bias "
    "excluded (torch's FlopCounterMode reports twice this)",
    "flops": "Floating-point operations per sample: 2·MACs for Conv and Linear (less the "
    "output elements without a bias), and per output element for other layers",
    "rf": "Receptive field: how many input pixels one output unit sees, per spatial axis",
    "rf_stride": "Effective stride: the distance in input pixels between neighbouring "
    "output units, per spatial axis",
    "error": "Why the layer cannot be computed here, or the upstream node it waits on",
    "rf_start": "Where the first output unit's receptive field begins in the input, per "
    "spatial axis; negative where it reaches into the padding",
    "input_shapes": "The shapes of the tensors fed in, port by port",
    "memory": "Output activations in bytes, for the batch size and dtype in the status bar",
    "non_trainable": "Non-trainable values (buffers such as BatchNorm's running statistics)",
    "warnings": "Things that work but are probably not what was meant",
    "output_shapes": "Every output slot's shape, slot 0 first",
    "dtype": "The number format of the output (slot 0's)",
}

TOTALS_TIP = (
    "Totals of the whole design:\n"
    "Params: learnable parameters\n"
    "MACs: multiply-accumulates per sample (Conv, ConvTranspose and Linear, bias excluded)\n"
    "FLOPs: floating-point operations per sample, every layer\n"
    "activations: memory of every output, at the batch size and dtype beside\n"
    "parameters: memory of the parameters and buffers\n"
    "errors (waiting): nodes that cannot be computed (and the nodes below them)\n"
    "Help ▸ What the numbers mean has the details."
)

# Gestures that are not actions, for the shortcuts page.
GESTURES = (
    ("Canvas", "Tab", "Quick insert a layer after the selection"),
    ("Canvas", "Arrow keys", "Move the selected nodes a step (Shift: five steps)"),
    ("Canvas", "Esc", "Clear the selection"),
    ("Canvas", "Wheel", "Scroll"),
    ("Canvas", "Ctrl+Wheel", "Zoom"),
    ("Canvas", "Middle button drag", "Pan"),
    ("Canvas", "Right click", "Menu for a node, a connection or the canvas"),
    ("Canvas", "Double click", "Open the block of an instance"),
    ("Find", "Enter / Shift+Enter", "Next / previous match"),
    ("Find", "Esc", "Close the find box"),
)


def plain(text: str) -> str:
    """An action's text without its mnemonic ampersands and trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def shortcut_rows(menu_bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, action, shortcuts) for every action in the menus that has a shortcut, in
    menu order; an action in two menus is listed once."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            sub = action.menu()
            if sub is not None:
                walk(sub, f"{path} ▸ {plain(action.text())}")
                continue
            keys = shortcut_text(action)
            if keys and id(action) not in seen:
                seen.add(id(action))
                rows.append((path, plain(action.text()), keys))

    for action in menu_bar.actions():
        if action.menu() is not None:
            walk(action.menu(), plain(action.text()))
    return rows


def shortcut_text(action: QAction) -> str:
    return ", ".join(
        key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts()
    )


class ShortcutsDialog(QDialog):
    """Every shortcut of the window's menus, made from its actions, then the canvas
    gestures."""

    def __init__(self, menu_bar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcuts_dialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTreeWidget(self)
        self.table.setObjectName("shortcuts")
        self.table.setColumnCount(3)
        self.table.setHeaderLabels(["Menu", "Action", "Keys"])
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        for row in [*shortcut_rows(menu_bar), *((m, d, k) for m, k, d in GESTURES)]:
            QTreeWidgetItem(self.table, list(row))
        header = self.table.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(_close_buttons(self))
        self.resize(560, 620)

    def rows(self) -> list[tuple[str, str, str]]:
        return [
            tuple(self.table.topLevelItem(i).text(c) for c in range(3))
            for i in range(self.table.topLevelItemCount())
        ]


class NumbersDialog(QDialog):
    """The README's "What the numbers mean", in a window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("numbers_dialog")
        self.setWindowTitle("What the numbers mean")
        self.text = QTextBrowser(self)
        self.text.setObjectName("numbers")
        self.text.setOpenExternalLinks(False)
        self.text.setHtml(NUMBERS_HTML)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(_close_buttons(self))
        self.resize(640, 680)


def about_text() -> str:
    return (
        f"<h3>designer {designer.__version__}</h3>"
        "<p>Design neural networks by drawing them, and see for every layer what PyTorch "
        "would give you: output shape, parameters, MACs and FLOPs, receptive field, "
        "memory, and clear errors where the design does not fit together.</p>"
    )


def _close_buttons(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    buttons.button(QDialogButtonBox.StandardButton.Close).setDefault(True)
    buttons.setCenterButtons(False)
    buttons.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
    return buttons
