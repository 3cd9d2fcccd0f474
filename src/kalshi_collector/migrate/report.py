"""What one migrator did, as counts and one line per thing the user should know."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["MigrationReport"]


@dataclass(slots=True)
class MigrationReport:
    """``problems`` make the run fail (exit 1): a file that could not be read or placed; the
    originals are untouched either way. ``left_alone``: things found that no migrator is for."""

    name: str
    files: Counter[str] = field(default_factory=Counter)  # original files read, by folder
    rows_read: int = 0
    rows_added: int = 0
    written: list[str] = field(default_factory=list)  # files written, as readers open them
    skipped_rows: Counter[str] = field(default_factory=Counter)  # reason -> rows
    not_carried: dict[str, set[str]] = field(default_factory=dict)  # folder -> columns no counterpart declares
    left_alone: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        by_folder = ", ".join(f"{k} {v}" for k, v in sorted(self.files.items()))
        held = self.rows_read - self.rows_added - sum(self.skipped_rows.values())
        return (
            f"migrate {self.name}: {sum(self.files.values())} files" + (f" ({by_folder})" if by_folder else "")
            + f", {self.rows_read} rows read, {self.rows_added} added, {held} already held; "
            f"{len(self.written)} files written; {len(self.problems)} problems"
        )

    def lines(self) -> list[str]:
        """The summary, then one indented line per file written, skip reason, column not carried,
        thing left alone and problem."""
        out = [self.summary()]
        out += [f"  wrote {url}" for url in self.written]
        out += [f"  skipped {n} rows: {reason}" for reason, n in sorted(self.skipped_rows.items())]
        out += [f"  not carried from {folder}: {', '.join(sorted(cols))}" for folder, cols in sorted(self.not_carried.items())]
        out += [f"  left alone: {line}" for line in self.left_alone]
        out += [f"  PROBLEM {line}" for line in self.problems]
        return out
