"""The layer palette: the whole catalog, searchable, dragging the contract's MIME type."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QLineEdit, QTreeView

from designer.core.registry import CATEGORIES, LAYERS
from designer.ui.panels.palette import LAYER_MIME, Palette, mime_for


def make_palette(qtbot) -> Palette:
    palette = Palette()
    qtbot.addWidget(palette)
    return palette


def shown(palette: Palette) -> dict[str, list[str]]:
    """Visible groups and their items' texts, as the view's model has them."""
    view = palette.findChild(QTreeView, "palette")
    model = view.model()
    groups = {}
    for g in range(model.rowCount()):
        group = model.index(g, 0)
        groups[group.data()] = [
            model.index(r, 0, group).data() for r in range(model.rowCount(group))
        ]
    return groups


def item(palette: Palette, type_name: str) -> QModelIndex:
    model = palette.view.model()
    for g in range(model.rowCount()):
        group = model.index(g, 0)
        for r in range(model.rowCount(group)):
            if model.index(r, 0, group).data() == type_name:
                return model.index(r, 0, group)
    raise LookupError(type_name)


def test_every_layer_type_once_by_category(qtbot) -> None:
    palette = make_palette(qtbot)
    groups = shown(palette)
    assert list(groups) == list(CATEGORIES)
    names = [name for names in groups.values() for name in names]
    assert sorted(names) == sorted(LAYERS)
    assert len(names) == len(set(names))
    for category, names in groups.items():
        assert all(LAYERS[name].category == category for name in names)
    assert item(palette, "Conv2d").data(Qt.ItemDataRole.ToolTipRole) == LAYERS["Conv2d"].summary


def test_group_headers_are_not_draggable(qtbot) -> None:
    palette = make_palette(qtbot)
    model = palette.view.model()
    header = model.index(0, 0)
    assert not model.flags(header) & Qt.ItemFlag.ItemIsDragEnabled
    assert model.flags(item(palette, "ReLU")) & Qt.ItemFlag.ItemIsDragEnabled


def test_search_filters_as_you_type(qtbot) -> None:
    palette = make_palette(qtbot)
    search = palette.findChild(QLineEdit, "palette_search")
    assert search.placeholderText() == "Search layers…"
    qtbot.keyClicks(search, "conv")
    names = {name for names in shown(palette).values() for name in names}
    assert names == {n for n in LAYERS if n.startswith(("Conv", "ConvTranspose"))}
    assert list(shown(palette)) == ["Convolution"]  # groups with no match are hidden
    search.clear()
    assert sorted(n for names in shown(palette).values() for n in names) == sorted(LAYERS)


def test_search_matches_summaries_case_insensitively(qtbot) -> None:
    palette = make_palette(qtbot)
    palette.search.setText("UP-SAMPLING")
    names = {name for names in shown(palette).values() for name in names}
    assert names == {"ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "PixelShuffle"}


def test_items_drag_the_type_name(qtbot) -> None:
    palette = make_palette(qtbot)
    model = palette.view.model()
    index = item(palette, "BatchNorm2d")
    assert model.mimeTypes() == [LAYER_MIME]
    mime = model.mimeData([index])
    assert bytes(mime.data(LAYER_MIME)).decode("utf-8") == "BatchNorm2d"
    assert bytes(mime_for("ReLU6").data(LAYER_MIME)).decode("utf-8") == "ReLU6"
    assert model.supportedDragActions() & Qt.DropAction.CopyAction
    assert palette.view.dragEnabled()


def test_double_click_and_enter_emit_the_type(qtbot) -> None:
    palette = make_palette(qtbot)
    palette.show()
    qtbot.waitExposed(palette)
    view = palette.view
    index = item(palette, "MaxPool2d")
    view.scrollTo(index)
    centre = view.visualRect(index).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # a double
    with qtbot.waitSignal(palette.activated_type) as blocker:  # click starts with a click
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert blocker.args == ["MaxPool2d"]

    view.setCurrentIndex(item(palette, "GELU"))
    with qtbot.waitSignal(palette.activated_type) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_Return)
    assert blocker.args == ["GELU"]


def test_group_header_activation_emits_nothing(qtbot) -> None:
    palette = make_palette(qtbot)
    with qtbot.assertNotEmitted(palette.activated_type):
        palette.view.activated.emit(palette.view.model().index(0, 0))


def test_enter_in_the_search_adds_the_first_match(qtbot) -> None:
    palette = make_palette(qtbot)
    palette.search.setText("relu6")
    with qtbot.waitSignal(palette.activated_type) as blocker:
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert blocker.args == ["ReLU6"]
