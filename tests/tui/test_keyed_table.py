"""KeyedTable: rows by key, only changed cells updated, columns widened only when needed, and
columns fitted to the width (optional ones left out, never one cut)."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets.data_table import ColumnKey

from tui.tables import KeyedTable, fitting_columns

COLUMNS = (("name", "Name"), ("value", "Value"))


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="table")


def row(name: str, value: str, style: str = "") -> tuple[Text, Text]:
    return (Text(name), Text(value, style=style))


@pytest.fixture
def updates(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every ``update_cell`` call as (row key, column key, text)."""
    calls: list[tuple[str, str, str]] = []
    original = KeyedTable.update_cell

    def spy(self: KeyedTable, row_key: object, column_key: object, value: Text, **kw: bool) -> None:
        calls.append((str(row_key), str(column_key), str(value)))
        original(self, row_key, column_key, value, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(KeyedTable, "update_cell", spy)
    return calls


async def test_a_new_key_adds_a_row_and_a_known_key_updates_only_changed_cells(
    updates: list[tuple[str, str, str]],
) -> None:
    app = TableApp()
    async with app.run_test():
        table = app.query_one(KeyedTable)
        table.upsert("a", row("alpha", "1"))
        table.upsert("b", row("beta", "2"))
        table.upsert("a", row("alpha", "1"))
        assert updates == []

        table.upsert("a", row("alpha", "3"))

        assert updates == [("a", "value", "3")]
        assert [str(cell) for cell in table.row_cells("a")] == ["alpha", "3"]
        assert list(table.keys()) == ["a", "b"] and table.row_count == 2


async def test_a_style_change_alone_counts_as_a_change(updates: list[tuple[str, str, str]]) -> None:
    app = TableApp()
    async with app.run_test():
        table = app.query_one(KeyedTable)
        table.upsert("a", row("alpha", "+1.00", "green"))
        table.upsert("a", row("alpha", "+1.00", "red"))
        assert updates == [("a", "value", "+1.00")]


async def test_discard_removes_the_row_and_set_cell_ignores_unknown_rows() -> None:
    app = TableApp()
    async with app.run_test():
        table = app.query_one(KeyedTable)
        table.upsert("a", row("alpha", "1"))
        assert table.discard("a") is True
        assert table.discard("a") is False
        table.set_cell("a", "value", Text("9"))
        assert table.row_count == 0 and "a" not in table


async def test_a_wider_value_widens_its_column() -> None:
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(KeyedTable)
        table.upsert("a", row("alpha", "1"))
        await pilot.pause()
        table.set_cell("a", "value", Text("1,000,000.00"))
        await pilot.pause()
        assert table.columns["value"].content_width >= len("1,000,000.00")  # type: ignore[index]


async def test_a_row_with_the_wrong_number_of_cells_is_refused() -> None:
    app = TableApp()
    async with app.run_test():
        with pytest.raises(ValueError, match="1 cells for 2 columns"):
            app.query_one(KeyedTable).upsert("a", (Text("alpha"),))


def test_fitting_shows_the_optional_columns_by_priority_while_they_fit() -> None:
    widths = (("a", 10), ("b", 10), ("c", 10), ("d", 10))  # 12 cells each with padding 1
    assert fitting_columns(widths, ("b", "c"), 48) == ("a", "b", "c", "d")
    assert fitting_columns(widths, ("b", "c"), 47) == ("a", "b", "d")  # c is needed least
    assert fitting_columns(widths, ("b", "c"), 30) == ("a", "d")  # required ones stay anyway
    wide_first = (("a", 10), ("b", 30), ("c", 4))
    assert fitting_columns(wide_first, ("b", "c"), 24) == ("a", "c")  # b left out, not c


class NarrowApp(App[None]):
    CSS = "KeyedTable { width: 40; height: 6; }"

    def compose(self) -> ComposeResult:
        yield KeyedTable(
            (("name", "Name"), ("note", "Note"), ("status", "Status"), ("age", "Age")),
            optional=("note",),
            id="table",
        )


async def test_a_growing_column_hides_an_optional_one_and_never_cuts_a_neighbour() -> None:
    app = NarrowApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.upsert("a", (Text("o-1"), Text("entry"), Text("submitted"), Text("42s")))
        await pilot.pause()
        assert table.visible_columns == ("name", "note", "status", "age")

        table.set_cell("a", "status", Text("partially filled, waiting"))
        await pilot.pause()
        await pilot.pause()
        assert table.visible_columns == ("name", "status", "age")
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert [cell.plain for cell in table.get_row("a")] == [
            "o-1",
            "partially filled, waiting",
            "42s",
        ]
        assert [cell.plain for cell in table.row_cells("a")][1] == "entry"  # kept, not shown

        table.set_cell("a", "status", Text("submitted"))
        await pilot.pause()
        await pilot.pause()
        assert table.visible_columns == ("name", "note", "status", "age")  # room again


def test_an_optional_column_must_be_a_column() -> None:
    with pytest.raises(ValueError, match="optional columns \\['nope'\\]"):
        KeyedTable(COLUMNS, optional=("nope",))


async def test_a_column_measured_narrower_than_its_cells_is_measured_again() -> None:
    app = NarrowApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(KeyedTable)
        table.upsert("a", (Text("o-1"), Text("entry"), Text("submitted"), Text("42s")))
        await pilot.pause()
        status = table.columns[ColumnKey("status")]
        status.content_width = 3  # as a lost width update leaves it: "submitted" would be cut

        table.fit_columns()
        await pilot.pause()
        await pilot.pause()

        assert status.content_width == len("submitted")
