"""DataTable helpers: refill a table without losing the operator's place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from textual.widgets import DataTable


def selected_key(table: DataTable) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    if table.row_count == 0:
        return None
    try:
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    except Exception:  # the cursor can sit past the end while rows are replaced
        return None
    return row_key.value


def refill(table: DataTable, rows: Iterable[tuple[str, Sequence[Any]]],
           keep: str | None = None) -> None:
    """Replace every row; the cursor stays on the same key when that row still exists."""
    keep = keep if keep is not None else selected_key(table)
    row = table.cursor_row
    table.clear()
    keys = []
    for key, cells in rows:
        table.add_row(*cells, key=key)
        keys.append(key)
    if not keys:
        return
    if keep in keys:
        row = keys.index(keep)
    table.move_cursor(row=min(max(row, 0), len(keys) - 1), animate=False)


def move_to(table: DataTable, key: str) -> bool:
    try:
        index = table.get_row_index(key)
    except Exception:
        return False
    table.move_cursor(row=index, animate=False)
    return True


class ListTable(DataTable):
    """A table whose Enter on no row says why nothing happens instead of doing nothing."""

    def __init__(self, *, empty_message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.empty_message = empty_message

    def action_select_cursor(self) -> None:
        if self.row_count == 0:
            self.notify(self.empty_message, severity="warning")
            return
        super().action_select_cursor()
