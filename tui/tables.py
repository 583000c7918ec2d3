"""``KeyedTable``: a DataTable whose rows are addressed by key and updated cell by cell.

Any DataTable update invalidates the render cache of every visible row, so the flush touches as
little as it can: a new key adds a row, a known key updates only the cells whose text changed,
a finished key removes its row. ``clear()`` is never used: it resets the cursor and the scroll.

Everything here runs on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey

__all__ = ["KeyedTable"]

_Signature = tuple[str, str, tuple[Any, ...]]


def _signature(cell: Text) -> _Signature:
    # rich's Text equality ignores the base style; a P&L turning from red to green must count.
    return (cell.plain, str(cell.style), tuple(cell.spans))


class KeyedTable(DataTable[Text]):
    """A DataTable of ``Text`` cells with one row per key.

    Args:
        columns: (column key, header label) pairs, in display order.
        name, id, classes: as for any widget.
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._column_spec = tuple(columns)
        self._column_keys = tuple(key for key, _ in self._column_spec)
        self._shown: dict[str, tuple[_Signature, ...]] = {}
        self._columns_added = False

    def on_mount(self) -> None:
        """Add the columns (UI thread)."""
        self._ensure_columns()

    def _ensure_columns(self) -> None:
        if not self._columns_added:
            self._columns_added = True
            for key, label in self._column_spec:
                self.add_column(label, key=key)

    def __contains__(self, key: object) -> bool:
        return key in self._shown

    def __len__(self) -> int:
        return len(self._shown)

    def keys(self) -> Iterator[str]:
        """Row keys in display order."""
        return iter([str(row.key.value) for row in self.ordered_rows])

    def sort_rows(self, column_key: str, rank: Callable[[str], Any]) -> None:
        """Order the rows by ``rank(text of their cell in column_key)``; the cursor stays on
        the row it was on (not on the same index), so a selection never changes under it."""
        selected = self.cursor_key
        self.sort(column_key, key=lambda cell: rank(cell.plain))
        if selected is not None:
            self.move_cursor(row=self.get_row_index(selected), scroll=False)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (None when the table is empty)."""
        if not self._shown:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        except CellDoesNotExist:
            return None
        return row_key.value

    def upsert(self, key: str, cells: Sequence[Text]) -> None:
        """Show ``cells`` in the row ``key``: add it if new, else update only changed cells.

        Raises:
            ValueError: if ``cells`` does not have one value per column.
        """
        if len(cells) != len(self._column_keys):
            raise ValueError(f"{len(cells)} cells for {len(self._column_keys)} columns")
        self._ensure_columns()
        signatures = tuple(_signature(cell) for cell in cells)
        shown = self._shown.get(key)
        if shown is None:
            self.add_row(*cells, key=key)
            self._shown[key] = signatures
            return
        if shown == signatures:
            return
        for column_key, cell, old, new in zip(
            self._column_keys, cells, shown, signatures, strict=True
        ):
            if old != new:
                self._update(key, column_key, cell)
        self._shown[key] = signatures

    def set_cell(self, key: str, column_key: str, cell: Text) -> None:
        """Update one cell of an existing row if its text changed; unknown rows are ignored."""
        shown = self._shown.get(key)
        if shown is None:
            return
        index = self._column_keys.index(column_key)
        signature = _signature(cell)
        if shown[index] == signature:
            return
        self._update(key, column_key, cell)
        self._shown[key] = (*shown[:index], signature, *shown[index + 1 :])

    def discard(self, key: str) -> bool:
        """Remove the row ``key``; returns False if there was none."""
        if self._shown.pop(key, None) is None:
            return False
        self.remove_row(key)
        return True

    def _update(self, key: str, column_key: str, cell: Text) -> None:
        # Widen the column only when the new text does not fit; re-measuring costs.
        column = self.columns.get(ColumnKey(column_key))
        wider = column is not None and cell_len(cell.plain) > column.content_width
        self.update_cell(key, column_key, cell, update_width=wider)
