"""Reading the table of an NWS Daily Climate Report (CLI) by its columns (pure).

A CLI product prints one table per station (SOURCES.md 2.6)::

    WEATHER ITEM   OBSERVED TIME   RECORD YEAR NORMAL DEPARTURE LAST
                    VALUE   (LST)  VALUE       VALUE  FROM      YEAR
      MAXIMUM         38   2:41 PM  62    1999  35      3       30
      YESTERDAY        0.00          1.05 1966   0.07  -0.07     0.02

Cells may be blank (no record for a row, no time for precipitation), so splitting on whitespace
cannot tell which column a number is in. The header line can: offices print one of some twenty
layouts (pyIEM lists them), each with the column names over the columns. A cell belongs to the
last column whose name starts before the cell ends (numbers are right-aligned under their
names, a time ``2:41 PM`` starts a little left of ``TIME``). Without a header line only the
leading value and time of a row can be read, from their order.

The blocks (``TEMPERATURE (F)``, ``PRECIPITATION (IN)``, ``WIND (MPH)`` ...) each start with an
unindented title and run until the next unindented line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["COLUMNS", "TableLayout", "TableRow", "find_layout", "read_row", "split_blocks"]

COLUMNS = ("observed", "time", "record", "year", "normal", "departure", "last")
"""The value columns of the table, in the order they are printed."""

_HEADER_WORDS = {
    "OBSERVED": "observed",
    "TIME": "time",
    "RECORD": "record",
    "YEAR": "year",
    "NORMAL": "normal",
    "DEPARTURE": "departure",
    "LAST": "last",
}
_TOKEN = re.compile(r"\S+")
_CLOCK = re.compile(r"^\d{1,2}:?\d{2}$")
_NOT_A_LABEL = frozenset({"M", "MM", "T"})


@dataclass(frozen=True, slots=True)
class TableLayout:
    """Where each column starts, as the header line prints it: (position, column) in order."""

    starts: tuple[tuple[int, str], ...]

    @classmethod
    def from_header(cls, line: str) -> TableLayout | None:
        """The layout of a ``WEATHER ITEM   OBSERVED ...`` line; None for any other line."""
        if not line.strip().startswith("WEATHER ITEM"):
            return None
        starts = tuple((m.start(), _HEADER_WORDS[m.group()]) for m in _TOKEN.finditer(line) if m.group() in _HEADER_WORDS)
        if not starts or starts[0][1] != "observed":
            return None
        return cls(starts)

    @property
    def label_end(self) -> int:
        """Cells ending at or before this position belong to the row's label."""
        return self.starts[0][0]

    def column_of(self, end: int) -> str | None:
        """The column of a cell ending at ``end`` (exclusive); None: part of the label."""
        column = None
        for start, name in self.starts:
            if start < end:
                column = name
            else:
                break
        return column


@dataclass(frozen=True, slots=True)
class TableRow:
    """One line of the table: its label (``MAXIMUM``, ``MONTH TO DATE``) and the text of each
    non-blank cell (a time's two tokens joined: ``2:41 PM``)."""

    label: str
    cells: Mapping[str, str] = field(default_factory=dict)

    def get(self, column: str) -> str | None:
        return self.cells.get(column)


def find_layout(lines: list[str]) -> TableLayout | None:
    """The layout of the first table header among ``lines``, if any."""
    for line in lines:
        layout = TableLayout.from_header(line)
        if layout is not None:
            return layout
    return None


def read_row(line: str, layout: TableLayout | None) -> TableRow:
    """The label and cells of one table line, by column when the layout is known."""
    tokens = [(m.group(), m.end()) for m in _TOKEN.finditer(line)]
    if layout is None:
        return _read_by_order(tokens)
    label: list[str] = []
    cells: dict[str, list[str]] = {}
    for text, end in tokens:
        column = layout.column_of(end)
        if column is None:
            label.append(text)
        else:
            cells.setdefault(column, []).append(text)
    return TableRow(" ".join(label), {name: " ".join(parts) for name, parts in cells.items()})


def _read_by_order(tokens: list[tuple[str, int]]) -> TableRow:
    """No header: the label is the leading words, then the observed value and, if it follows, a time."""
    words = [t for t, _ in tokens]
    n = 0
    while n < len(words) and words[n].isalpha() and words[n] not in _NOT_A_LABEL:
        n += 1
    cells: dict[str, str] = {}
    if n < len(words):
        cells["observed"] = words[n]
        rest = words[n + 1:]
        if len(rest) >= 2 and _CLOCK.match(rest[0]) and rest[1] in ("AM", "PM"):
            cells["time"] = f"{rest[0]} {rest[1]}"
    return TableRow(" ".join(words[:n]), cells)


def split_blocks(lines: list[str]) -> dict[str, list[str]]:
    """Each block's lines under its title (the unindented line that starts it), first of each
    title only; the title is the stripped line (``TEMPERATURE (F)``)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line[:1].strip():  # unindented: a new block (or the end of one)
            title = line.strip()
            current = None if title in blocks else blocks.setdefault(title, [])
            continue
        if current is not None:
            current.append(line)
    return blocks
