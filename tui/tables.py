"""``KeyedTable``: a DataTable whose rows are addressed by key and updated cell by cell, and
whose columns always fit its width.

Any DataTable update invalidates the render cache of every visible row, so the flush touches as
little as it can: a new key adds a row, a known key updates only the cells whose text changed,
a finished key removes its row. ``clear()`` is used only when the shown columns change.

Fitting: a column is never cut and the table never scrolls sideways. Each column has its
natural width (its widest cell or its label); when they do not all fit the table's width, the
columns named ``optional`` are shown by priority (the first first) while they fit. So a column
that grows (a longer status) hides an optional one rather than cutting its neighbour, and a
narrower terminal shows fewer columns, never half of one. ``row_cells`` answers every column,
shown or not (``get_row``: the shown ones).

Everything here runs on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey

__all__ = ["KeyedTable", "fitting_columns"]

_Signature = tuple[str, str, tuple[Any, ...]]
#: Times in a row a cut column is measured again before waiting for the next change.
_MAX_HEALS = 3


def _signature(cell: Text) -> _Signature:
    # rich's Text equality ignores the base style; a P&L turning from red to green must count.
    return (cell.plain, str(cell.style), tuple(cell.spans))


def fitting_columns(
    widths: Sequence[tuple[str, int]],
    optional: Sequence[str],
    available: int,
    *,
    padding: int = 1,
) -> tuple[str, ...]:
    """The column keys to show, in display order: the required ones (all of ``widths``,
    (key, natural width) in display order, not named in ``optional``), always, then each
    ``optional`` one, the first first, that still fits ``available`` cells (each column takes
    ``2 * padding`` more): a wide one left out does not keep a narrower, later one out."""
    width_of = dict(widths)
    shown = {key for key, _ in widths if key not in optional}
    used = sum(width_of[key] + 2 * padding for key in shown)
    for key in optional:
        need = width_of[key] + 2 * padding
        if used + need <= available:
            shown.add(key)
            used += need
    return tuple(key for key, _ in widths if key in shown)


class KeyedTable(DataTable[Text]):
    """A DataTable of ``Text`` cells with one row per key, its columns fitted to its width.

    Args:
        columns: (column key, header label) pairs, in display order.
        optional: keys of columns shown only while they fit, the most needed first.
        name, id, classes: as for any widget.
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        *,
        optional: Sequence[str] = (),
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._column_spec = tuple(columns)
        self._column_keys = tuple(key for key, _ in self._column_spec)
        unknown = set(optional) - set(self._column_keys)
        if unknown:
            raise ValueError(f"optional columns {sorted(unknown)} are not columns of the table")
        self._optional = tuple(optional)
        self._shown: dict[str, tuple[_Signature, ...]] = {}
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._visible: tuple[str, ...] = self._column_keys
        self._columns_added = False
        self._fit_due = True
        self._heals = 0  # measures asked again in a row (_widen_cut_columns)

    def on_mount(self) -> None:
        """Add the columns (UI thread)."""
        self._ensure_columns()
        self.set_class(not self._shown, "-empty")
        self.call_after_refresh(self.fit_columns)

    def _ensure_columns(self) -> None:
        if not self._columns_added:
            self._columns_added = True
            labels = dict(self._column_spec)
            for key in self._visible:
                self.add_column(labels[key], key=key)

    def __contains__(self, key: object) -> bool:
        return key in self._shown

    def __len__(self) -> int:
        return len(self._shown)

    @property
    def visible_columns(self) -> tuple[str, ...]:
        """The keys of the columns shown, in display order."""
        return self._visible

    def keys(self) -> Iterator[str]:
        """Row keys in display order."""
        return iter([str(row.key.value) for row in self.ordered_rows])

    def row_cells(self, key: str) -> list[Text]:
        """Every cell of the row ``key``, in the order of the table's columns (shown or not).

        Raises:
            KeyError: no such row.
        """
        return list(self._cells[key])

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
        self._cells[key] = tuple(cells)
        if shown is None:
            self.add_row(*self._visible_cells(key), key=key)
            self._shown[key] = signatures
            self._changed()
            return
        if shown == signatures:
            return
        resized = False
        for column_key, cell, old, new in zip(
            self._column_keys, cells, shown, signatures, strict=True
        ):
            if old != new:
                self._update(key, column_key, cell)
                resized = resized or cell_len(old[0]) != cell_len(new[0])
        self._shown[key] = signatures
        self._changed(resized=resized)

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
        cells = self._cells[key]
        self._cells[key] = (*cells[:index], cell, *cells[index + 1 :])
        self._changed(resized=cell_len(shown[index][0]) != cell_len(signature[0]))

    def discard(self, key: str) -> bool:
        """Remove the row ``key``; returns False if there was none."""
        if self._shown.pop(key, None) is None:
            return False
        del self._cells[key]
        self.remove_row(key)
        self._changed()
        return True

    # -- fitting the columns to the width ----------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        """A new width may show more columns or need fewer (UI thread)."""
        self._fit_due = True
        self.call_after_refresh(self.fit_columns)

    def _changed(self, *, resized: bool = True) -> None:
        """A row came, went or changed (``resized``: a cell's width changed): the columns are
        fitted again after the next refresh."""
        self.set_class(not self._shown, "-empty")
        if resized and not self._fit_due:
            self._fit_due = True
            self.call_after_refresh(self.fit_columns)

    def natural_widths(self) -> tuple[tuple[str, int], ...]:
        """(column key, width of its widest cell or label) for every column, shown or not."""
        rows = tuple(self._cells.values())
        return tuple(
            (key, max([cell_len(label), *(cell_len(row[index].plain) for row in rows)]))
            for index, (key, label) in enumerate(self._column_spec)
        )

    def fit_columns(self) -> None:
        """Show the columns that fit the table's width (see the module docstring)."""
        self._fit_due = False
        if not self.is_mounted or self.size.width == 0:
            return
        available = self.scrollable_content_region.width
        widths = self.natural_widths()
        wanted = fitting_columns(widths, self._optional, available, padding=self.cell_padding)
        needed = sum(width + 2 * self.cell_padding for key, width in widths if key in wanted)
        # Columns only ever widen in a DataTable: one wider than its cells now need (its widest
        # row has gone) is measured again by the rebuild too.
        shown = sum(column.get_render_width(self) for column in self.columns.values())
        if wanted != self._visible or shown > max(available, needed):
            self._rebuild(wanted)
            return
        self._widen_cut_columns(dict(widths))

    def _widen_cut_columns(self, natural: dict[str, int]) -> None:
        """A shown column narrower than its widest cell (a DataTable measures lazily, and a
        width update can be lost to a rebuild's pending measure) is measured again: its
        widest cell is written back with ``update_width`` and the fit checked once more."""
        index = {key: n for n, key in enumerate(self._column_keys)}
        self._heals = self._heals + 1 if self._heals < _MAX_HEALS else 0
        if self._heals == 0:
            return  # measured again a few times in a row: wait for the next change
        for key in self._visible:
            column = self.columns.get(ColumnKey(key))
            if column is None or column.content_width >= natural[key] or not self._cells:
                continue
            row_key, cells = max(
                self._cells.items(), key=lambda item: cell_len(item[1][index[key]].plain)
            )
            self.update_cell(row_key, key, cells[index[key]], update_width=True)
            if not self._fit_due:
                self._fit_due = True
                self.call_after_refresh(self.fit_columns)
            return
        self._heals = 0

    def _rebuild(self, visible: tuple[str, ...]) -> None:
        # Columns cannot be hidden in a DataTable: the rows are laid out again, in their order,
        # and the cursor goes back to the row it was on.
        selected = self.cursor_key
        order = list(self.keys())
        self._visible = visible
        self.clear(columns=True)
        labels = dict(self._column_spec)
        for key in visible:
            self.add_column(labels[key], key=key)
        for key in order:
            self.add_row(*self._visible_cells(key), key=key)
        if selected is not None:
            self.move_cursor(row=self.get_row_index(selected), scroll=False)

    def _visible_cells(self, key: str) -> list[Text]:
        cells = dict(zip(self._column_keys, self._cells[key], strict=True))
        return [cells[column] for column in self._visible]

    def _update(self, key: str, column_key: str, cell: Text) -> None:
        if column_key not in self._visible:
            return  # kept in _cells; shown if the column comes back
        # Widen the column only when the new text does not fit; re-measuring costs.
        column = self.columns.get(ColumnKey(column_key))
        wider = column is not None and cell_len(cell.plain) > column.content_width
        self.update_cell(key, column_key, cell, update_width=wider)
