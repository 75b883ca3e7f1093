"""A table of a pack as the readers give it (assets/csv_files.py, assets/workbooks.py,
assets/parquet_files.py): a header, then a stream of text record batches, within the limits of
config/limits.yaml.

Every value is read as text ('' for blank) so that the contract's rules, not a file reader's
guesses, decide what a value means: Excel date cells become ISO dates, Excel and Parquet numbers
lose a spurious ".0". A file is opened first (its size, layout and header are checked, before any
row is read), then its rows arrive a batch at a time, so memory does not grow with the file.

Nothing here puts a value from the file into a message: values may be identifiers. Problems name
the file, the line or row, the column and the limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from assets.config import contract, limits

BATCH_ROWS = 65_536
# A batch is also cut at about this many characters of text, so that a file of many long values
# (a short string repeated in every cell of a workbook, a dictionary-encoded Parquet column) never
# expands into more than this at once.
BATCH_CHARACTERS = 16 << 20


class PackRejected(Exception):
    """The pack is refused as a whole; nothing from it may be stored."""

    def __init__(self, rule: str, message: str, table: str | None = None, column: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.table = table
        self.column = column


class ReadAgain(Exception):
    """The rows given so far must be thrown away: the file is read again another way."""


@dataclass(frozen=True)
class CellProblem:
    """A cell the reader could not turn into text, quarantined with `rule` (e.g. a formula with no
    calculated value). `row_number` counts data rows from 1."""

    row_number: int
    column: str
    rule: str


def pack_limits() -> dict:
    return limits()["packs"]


def over_limit(what: str, noun: str, limit_name: str, section: str = "packs", table: str | None = None
               ) -> PackRejected:
    """A file refused for going over one of config/limits.yaml's limits, which the message names."""
    value = limits()[section][limit_name]
    return PackRejected("over_limit", f"{what} more than {value:,} {noun} (the limit {section}.{limit_name} in "
                        "config/limits.yaml). Split the export, or save it again from the system that made it.",
                        table)


@cache
def contract_column_names() -> frozenset[str]:
    """Every column name the contract knows, in any table, and the two that must agree with the
    pack's name: the only column names that are ever stored or shown as they are."""
    return frozenset({c for t in contract()["tables"].values() for c in t["columns"]} | {"la_code", "period"})


def safe_column_label(name: str, position: int) -> str:
    """How a column is named in a stored message: by its name when that is one of the contract's,
    otherwise by its position, since a column name can itself be an identifier (a child's name, a
    date of birth) and no test of a free name can tell."""
    tidy = str(name).strip().lstrip("\ufeff").lower()
    return f"'{tidy}'" if tidy in contract_column_names() else f"column {position}"


@dataclass
class TableFile:
    """One table as found in a file: its header, then its rows on demand.

    `batches()` yields pyarrow RecordBatches whose columns are `columns` (the header trimmed and
    lower-cased), every value text. Limits on rows and on characters per cell are checked as the
    rows arrive; `problems` collects cells quarantined by the reader itself."""

    table: str
    source_file: str  # as named in messages: "cases.csv", "E06000001_2025Q3.xlsx:cases"
    header: list[str]  # as written
    read_rows: Callable[[TableFile], Iterator[pa.RecordBatch]]
    hidden: bool = False  # a sheet the workbook hides
    problems: list[CellProblem] = field(default_factory=list)
    rows_read: int = 0
    locate_row: Callable[[int], str] | None = None  # "line 12" for a data row, where the file can say
    limits_section: str = "packs"  # whose field_chars limit applies (statutory files have their own)

    @property
    def field_chars(self) -> int:
        return limits()[self.limits_section]["field_chars"]

    @property
    def columns(self) -> list[str]:
        return tidy_names(self.header)

    def where(self, row_number: int) -> str:
        return self.locate_row(row_number) if self.locate_row else f"row {row_number}"

    def batches(self) -> Iterator[pa.RecordBatch]:
        self.rows_read, self.problems = 0, []
        max_rows, max_chars = pack_limits()["rows_per_table"], self.field_chars
        for batch in self.read_rows(self):
            if self.rows_read + batch.num_rows > max_rows:
                raise over_limit(f"{self.source_file} has", "rows", "rows_per_table", table=self.table)
            for position, column in enumerate(batch.columns, start=1):
                # A column whose text is shorter than the limit altogether needs no closer look.
                if column.nbytes > max_chars and pc.max(pc.utf8_length(column)).as_py() > max_chars:
                    row = self.rows_read + 1 + pc.index(pc.greater(pc.utf8_length(column), max_chars), True).as_py()
                    raise PackRejected(
                        "over_limit", f"{self.source_file}: {self.where(row)}, "
                        f"{safe_column_label(self.header[position - 1], position)} holds more than "
                        f"{max_chars:,} characters (the limit {self.limits_section}.field_chars in "
                        "config/limits.yaml).",
                        self.table)
            self.rows_read += batch.num_rows
            yield batch

    def read_all(self) -> pa.Table:
        """Every row at once, for small tables (tests, tools)."""
        schema = pa.schema([(name, pa.string()) for name in self.columns])
        return pa.Table.from_batches(list(self.batches()), schema=schema)


def tidy_names(header: list[str]) -> list[str]:
    return [str(name).strip().lstrip("\ufeff").lower() for name in header]


def check_header(header: list, source_file: str, table: str) -> list[str]:
    """The header as text; refused when there is none, when it is too wide or names a column twice."""
    names = ["" if name is None else str(name) for name in header]
    if not names or not any(name.strip() for name in names):
        raise PackRejected("empty_file", f"{source_file} has no header row.", table)
    if len(names) > pack_limits()["columns_per_table"]:
        raise over_limit(f"{source_file} has", "columns", "columns_per_table", table=table)
    tidy = tidy_names(names)
    duplicates = sorted({name for name in tidy if tidy.count(name) > 1})
    if duplicates:
        position = tidy.index(duplicates[0]) + 1
        raise PackRejected("duplicate_column", f"{source_file}: column "
                           f"{safe_column_label(duplicates[0], position)} appears twice.", table, duplicates[0])
    return names


def check_size(path: Path, source_file: str, table: str | None) -> None:
    size = path.stat().st_size
    if size == 0:
        raise PackRejected("empty_file", f"{source_file} is empty: it has no header row.", table)
    if size > pack_limits()["file_bytes"]:
        raise over_limit(f"{source_file} holds", "bytes", "file_bytes", table=table)


def text_batch(columns: list[list[str]], names: list[str]) -> pa.RecordBatch:
    return pa.record_batch([pa.array(values, pa.string()) for values in columns], names=names)


def read_all_again(table_file: TableFile) -> pa.Table:
    """Every row of a table file, reading it again the slow way when the fast reader asks to."""
    try:
        return table_file.read_all()
    except ReadAgain:
        return table_file.read_all()
