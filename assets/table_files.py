"""One table file (CSV, Excel sheet or Parquet) read as a stream of text record batches, within
the limits of config/limits.yaml.

Every value is read as text ('' for blank) so that the contract's rules, not a file reader's
guesses, decide what a value means: Excel date cells become ISO dates, Excel and Parquet numbers
lose a spurious ".0". A file is opened first (its size, layout and header are checked, before any
row is read), then its rows arrive a batch at a time, so memory does not grow with the file.

Nothing here puts a value from the file into a message: values may be identifiers. Problems name
the file, the line or row, the column and the limit."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from assets.config import contract, limits

BATCH_ROWS = 65_536
# A batch is also cut at about this many characters of text, so that a file of many long values
# (a short string repeated in every cell of a workbook, a dictionary-encoded Parquet column) never
# expands into more than this at once.
BATCH_CHARACTERS = 16 << 20
EXCEL_MAX_ROWS = 1_048_576
BLOCK = 1 << 20
FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


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


# --- CSV -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CsvLayout:
    encoding: str  # a Python codec name
    separator: str
    skip_lines: int  # blank lines before the header, and the header
    quoted: bool  # the file has a quote mark somewhere (without one, no value can span lines)


def csv_layout(path: Path, source_file: str, table: str | None) -> tuple[CsvLayout, list[str]]:
    """Encoding (the first of the contract's that decodes the whole file), separator and header."""
    with open(path, "rb") as handle:
        start = handle.read(BLOCK)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or start[:4096].count(b"\0") > 0:
        raise PackRejected("unreadable", f"{source_file} is UTF-16 (or binary) text. Save it as 'CSV UTF-8' "
                           "from Excel, or as UTF-8 or Windows-1252 text from the case system.", table)
    encoding = next((e for e in contract()["values"]["encodings"] if decodes_whole_file(path, e)), None)
    if encoding is None:
        raise PackRejected("unreadable", f"{source_file} is neither UTF-8 nor Windows-1252 text.", table)
    text = start.decode(encoding, errors="ignore")
    lines = text.splitlines()  # \n, \r\n, or \r alone as old Mac files end their lines
    blank = 0
    while blank < len(lines) - 1 and not lines[blank].strip():
        blank += 1
    first_line = lines[blank] if lines else ""
    if not first_line.strip():
        raise PackRejected("empty_file", f"{source_file} has no header row.", table)
    if len(lines) == blank + 1 and len(start) == BLOCK:
        raise PackRejected("unreadable", f"{source_file}: line {blank + 1} is longer than {BLOCK:,} bytes: "
                           "the header cannot be read.", table)
    separator = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        header = next(csv.reader([first_line], delimiter=separator))
    except csv.Error:
        raise PackRejected("unreadable", f"{source_file}: the header row could not be read as CSV.", table) from None
    return CsvLayout(encoding, separator, blank + 1, holds_quote_mark(path)), header


def holds_quote_mark(path: Path) -> bool:
    with open(path, "rb") as handle:
        return any(b'"' in block for block in iter(lambda: handle.read(BLOCK), b""))


def decodes_whole_file(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(BLOCK), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def open_csv(path: Path, table: str, source_file: str | None = None) -> TableFile:
    source_file = source_file or path.name
    check_size(path, source_file, table)
    layout, header = csv_layout(path, source_file, table)
    header = check_header(header, source_file, table)
    table_file = TableFile(table, source_file, header, CsvRows(path, layout))
    table_file.locate_row = lambda row: f"line {csv_line_of_row(path, layout, row)}"
    return table_file


@dataclass
class CsvRows:
    """Reads a CSV's rows with Arrow; once a row turns out shorter than the header, the slow way."""

    path: Path
    layout: CsvLayout
    slow: bool = False

    def __call__(self, table_file: TableFile) -> Iterator[pa.RecordBatch]:
        for batch in (csv_rows_python if self.slow else self.arrow_rows)(self.path, self.layout, table_file):
            if self.layout.quoted:
                check_quotes(batch, self.layout.separator, table_file)
            yield batch

    def arrow_rows(self, path: Path, layout: CsvLayout, table_file: TableFile) -> Iterator[pa.RecordBatch]:
        source_file, table, width = table_file.source_file, table_file.table, len(table_file.header)
        names = [f"f{i}" for i in range(width)]
        mismatch: list[tuple[str, int | None, int]] = []

        def on_invalid_row(row) -> str:
            mismatch.append(("long" if row.actual_columns > row.expected_columns else "short", row.number,
                             row.actual_columns))
            return "error"

        arrow_encoding = "utf8" if layout.encoding.startswith("utf") else layout.encoding
        try:
            reader = pa_csv.open_csv(
                str(path),
                read_options=pa_csv.ReadOptions(column_names=names, skip_rows=layout.skip_lines, use_threads=False,
                                                block_size=pack_limits()["line_bytes"], encoding=arrow_encoding),
                parse_options=pa_csv.ParseOptions(delimiter=layout.separator, newlines_in_values=True,
                                                  invalid_row_handler=on_invalid_row),
                convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                      strings_can_be_null=False, quoted_strings_can_be_null=False))
            for batch in reader:
                yield batch.rename_columns(table_file.columns)
        except pa.ArrowInvalid as error:
            if mismatch and mismatch[0][0] == "short":
                # Spreadsheets often drop trailing blanks: such rows are read with blanks, the slow way.
                self.slow = True
                raise ReadAgain from error
            if mismatch:
                _, line, fields = mismatch[0]
                raise misaligned(source_file, table, line, fields, width) from error
            if "straddl" in str(error):
                raise PackRejected("over_limit", f"{source_file}: line {first_long_line(path)} is longer than "
                                   f"{pack_limits()['line_bytes']:,} bytes (the limit packs.line_bytes in "
                                   "config/limits.yaml).", table) from error
            raise PackRejected("unreadable", f"{source_file} could not be read as CSV "
                               "(the layout of its rows is broken).", table) from error


def misaligned(source_file: str, table: str, line: int | None, fields: int, width: int) -> PackRejected:
    where = f"line {line} has {fields} fields" if line else f"a row has {fields} fields"
    return PackRejected("unreadable", f"{source_file}: the file's rows do not line up with its header ({where}, "
                        f"the header {width}; line 1 is the header). Quote values that contain the separator, "
                        "or use the other separator.", table)


def csv_rows_python(path: Path, layout: CsvLayout, table_file: TableFile) -> Iterator[pa.RecordBatch]:
    """The slow path for a CSV Arrow refuses: short rows padded with blanks, a long row an error
    that names its line (never its values)."""
    width = len(table_file.header)
    csv.field_size_limit(table_file.field_chars + 1)
    with open(path, encoding=layout.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=layout.separator)
        columns: list[list[str]] = [[] for _ in range(width)]
        line, seen_header, characters = 0, False, 0
        try:
            for row in reader:
                start, line = line + 1, reader.line_num
                if not row or not any(row) and len(row) == 1:
                    continue
                if not seen_header:
                    seen_header = True
                    continue
                if len(row) > width:
                    raise misaligned(table_file.source_file, table_file.table, start, len(row), width)
                for i in range(width):
                    columns[i].append(row[i] if i < len(row) else "")
                characters += sum(map(len, row))
                if len(columns[0]) >= BATCH_ROWS or characters >= BATCH_CHARACTERS:
                    yield text_batch(columns, table_file.columns)
                    columns, characters = [[] for _ in range(width)], 0
        except csv.Error as error:
            raise PackRejected("over_limit" if "field larger" in str(error) else "unreadable",
                               f"{table_file.source_file}: line {line + 1} "
                               + (f"holds a value longer than {table_file.field_chars:,} characters (the "
                                  f"limit {table_file.limits_section}.field_chars in config/limits.yaml)."
                                  if "field larger" in str(error) else "could not be read as CSV."),
                               table_file.table) from error
    if columns[0]:
        yield text_batch(columns, table_file.columns)


def check_quotes(batch: pa.RecordBatch, separator: str, table_file: TableFile) -> None:
    """A quote opened and never closed swallows the lines after it into one value: a value holding
    a line break followed by what looks like whole rows (the separator many times) is refused."""
    needed = max(1, len(table_file.header) - 1)
    for column in batch.columns:
        if not pc.any(pc.match_substring(column, "\n")).as_py():
            continue
        for index in pc.indices_nonzero(pc.match_substring(column, "\n")).to_pylist():
            value = column[index].as_py()
            if any(part.count(separator) >= needed for part in value.split("\n")[1:]):
                row = table_file.rows_read + index + 1
                raise PackRejected("unreadable", f"{table_file.source_file}: {table_file.where(row)} opens a "
                                   "quote (\") that is not closed, so the lines after it were read as one value. Close "
                                   "the quote, or remove the stray quote mark.", table_file.table)


def csv_line_of_row(path: Path, layout: CsvLayout, row_number: int) -> int:
    """The line a data row starts on (rows can span lines inside quotes; blank lines are skipped)."""
    with open(path, encoding=layout.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=layout.separator)
        line, rows = 0, -1  # the header is row 0
        try:
            for row in reader:
                start, line = line + 1, reader.line_num
                if not row:
                    continue
                rows += 1
                if rows == row_number:
                    return start
        except csv.Error:
            return line + 1
    return line


def first_long_line(path: Path) -> int:
    limit, line, length = pack_limits()["line_bytes"], 1, 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            parts = block.split(b"\n")
            for i, part in enumerate(parts):
                length += len(part)
                if length > limit:
                    return line
                if i < len(parts) - 1:
                    line, length = line + 1, 0
    return line


def read_csv_text(data: bytes, limits_section: str = "statutory") -> pa.Table:
    """A whole CSV held in memory (small files: SSDA903 returns, whose own limits apply by default),
    read as a pack table is."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
        handle.write(data)
        handle.flush()
        table_file = open_csv(Path(handle.name), "csv", "the file")
        table_file.limits_section = limits_section
        try:
            return read_all_again(table_file)
        except PackRejected as error:
            error.message = error.message.removeprefix("the file: ")
            raise


def read_all_again(table_file: TableFile) -> pa.Table:
    """Every row of a table file, reading it again the slow way when the fast reader asks to."""
    try:
        return table_file.read_all()
    except ReadAgain:
        return table_file.read_all()


# --- Excel ---------------------------------------------------------------------------------------

def check_workbook_archive(path: Path, source_file: str, table: str | None) -> None:
    """An .xlsx is a zip archive: its sizes are checked from the archive's directory before any part
    is decompressed, so a zip bomb is refused without being opened."""
    settings = limits()["workbooks"]
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise PackRejected("unreadable", f"{source_file} could not be read as an Excel workbook (.xlsx).",
                           table) from error
    if len(entries) > settings["entries"]:
        raise over_limit(f"{source_file} has", "parts", "entries", "workbooks", table)
    if sum(e.file_size for e in entries) > settings["total_uncompressed_bytes"]:
        raise over_limit(f"{source_file} holds", "bytes uncompressed", "total_uncompressed_bytes", "workbooks", table)
    for entry in entries:
        name = entry.filename.lower()
        if name.startswith("xl/worksheets/") and entry.file_size > settings["sheet_xml_bytes"]:
            raise over_limit(f"{source_file}: a sheet holds", "bytes uncompressed", "sheet_xml_bytes", "workbooks",
                             table)
        if name.endswith("sharedstrings.xml") and entry.file_size > settings["shared_strings_bytes"]:
            raise over_limit(f"{source_file}: its shared text holds", "bytes uncompressed",
                             "shared_strings_bytes", "workbooks", table)
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > BLOCK and ratio > settings["max_compression_ratio"]:
            raise PackRejected("over_limit", f"{source_file}: a part of the workbook is compressed more than "
                               f"{settings['max_compression_ratio']} times (the limit workbooks.max_compression_ratio "
                               "in config/limits.yaml); real sheets are not. Save the workbook again from Excel.",
                               table)


def has_formulas(path: Path, entry: str) -> bool:
    with zipfile.ZipFile(path) as archive, archive.open(entry) as stream:
        tail = b""
        for block in iter(lambda: stream.read(BLOCK), b""):
            if FORMULA_TAG.search(tail + block):
                return True
            tail = block[-16:]
    return False


def cell_text(value) -> str:
    """A cell from Excel as the text the contract reads."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Cells to the right of the last heading of a sheet are read too, joined in one column of this name,
# so that nothing in a sheet escapes the identifier scan.
BEYOND_HEADER = "(cells beyond the header)"


def open_workbook(path: Path, source_file: str | None = None, table: str | None = None) -> list[TableFile]:
    """Every sheet of a workbook, in workbook order, each as a TableFile whose `table` is the
    sheet's title (the caller decides which sheet is which table); its header is its first row,
    then BEYOND_HEADER."""
    import openpyxl

    source_file = source_file or path.name
    check_size(path, source_file, table)
    check_workbook_archive(path, source_file, table)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        sheets = []
        try:
            for sheet in workbook.worksheets:
                sheet.reset_dimensions()  # a workbook may claim a size it does not have
                first = next(sheet.iter_rows(max_row=1, values_only=True), None)
                header = [] if first is None else ["" if v is None else cell_text(v) for v in first]
                while header and not header[-1].strip():
                    header.pop()
                if len(header) > pack_limits()["columns_per_table"]:
                    raise over_limit(f"{source_file} has", "columns", "columns_per_table", table=table)
                sheets.append(TableFile(sheet.title, source_file, [*header, BEYOND_HEADER],
                                        SheetRows(path, sheet.title), hidden=sheet.sheet_state != "visible"))
        finally:
            workbook.close()
    except PackRejected:
        raise
    except Exception as error:  # any parser failure is the file's fault, reported plainly
        raise PackRejected("unreadable", f"{source_file} could not be read as an Excel workbook (.xlsx): "
                           f"{type(error).__name__}.", table) from None
    return sheets


def as_scanned_sheet(sheet: TableFile, label: str) -> TableFile:
    """A sheet that is not a table: every row of it, the first included, under positional column
    names, to be scanned for identifiers and never stored."""
    width = len(sheet.header) - 1
    sheet.header = [f"column {i}" for i in range(1, width + 1)] + [BEYOND_HEADER]
    sheet.table, sheet.read_rows = label, SheetRows(sheet.read_rows.path, sheet.read_rows.title, first_row=1)
    return sheet


def check_sheet_header(sheet: TableFile) -> None:
    """A sheet read as a table: its headings checked like a file's (BEYOND_HEADER stays last)."""
    sheet.header = [*check_header(sheet.header[:-1], sheet.source_file, sheet.table), BEYOND_HEADER]


@dataclass(frozen=True)
class SheetRows:
    """Reads one sheet's rows from `first_row` (2: under its header; 1: every row)."""

    path: Path
    title: str
    first_row: int = 2

    def __call__(self, table_file: TableFile) -> Iterator[pa.RecordBatch]:
        import openpyxl

        path, title, first_row = self.path, self.title, self.first_row
        width = len(table_file.header) - 1  # the last column holds the cells beyond the header
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formulas_book = None
        try:
            sheet = workbook[title]
            sheet.reset_dimensions()
            values = sheet.iter_rows(min_row=first_row, values_only=True)
            # Cells holding a formula Excel never calculated read as blank: read the formulas too,
            # only for sheets that have any, to tell such a cell from a blank one.
            if has_formulas(path, sheet._worksheet_path):
                formulas_book = openpyxl.load_workbook(path, read_only=True, data_only=False)
                formula_sheet = formulas_book[title]
                formula_sheet.reset_dimensions()
                formulas = formula_sheet.iter_rows(min_row=first_row, values_only=True)
            else:
                formulas = None
            columns: list[list[str]] = [[] for _ in range(width + 1)]
            physical, characters = first_row - 1, 0
            for row in values:
                physical += 1
                if physical > EXCEL_MAX_ROWS:
                    raise PackRejected("over_limit", f"{table_file.source_file} has more rows than an Excel sheet "
                                       f"can hold ({EXCEL_MAX_ROWS:,}): it was not written by Excel. Save it again "
                                       "from Excel, or send the table as CSV.", table_file.table)
                written = next(formulas, ()) if formulas is not None else ()
                uncalculated = [i for i, w in enumerate(written[:width]) if isinstance(w, str) and w.startswith("=")
                                and (i >= len(row) or row[i] is None)]
                if not uncalculated and not any(v is not None and str(v).strip() for v in row):
                    continue  # a blank row is not a row
                for i in uncalculated:
                    table_file.problems.append(CellProblem(table_file.rows_read + len(columns[-1]) + 1,
                                                           table_file.columns[i], "formula_without_value"))
                texts = [cell_text(v) for v in row]
                for i in range(width):
                    columns[i].append(texts[i] if i < len(texts) else "")
                columns[-1].append("\t".join(t for t in texts[width:] if t))
                characters += sum(map(len, texts))
                if len(columns[-1]) >= BATCH_ROWS or characters >= BATCH_CHARACTERS:
                    yield text_batch(columns, table_file.columns)
                    columns, characters = [[] for _ in range(width + 1)], 0
            if columns[-1]:
                yield text_batch(columns, table_file.columns)
        finally:
            workbook.close()
            if formulas_book is not None:
                formulas_book.close()


def open_xlsx_table(path: Path, table: str) -> TableFile:
    """A table file that is a workbook: its first sheet."""
    sheets = open_workbook(path, path.name, table)
    first = sheets[0]
    first.table = table
    check_sheet_header(first)
    return first


# --- Parquet -------------------------------------------------------------------------------------

def open_parquet(path: Path, table: str) -> TableFile:
    check_size(path, path.name, table)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:
        raise PackRejected("unreadable", f"{path.name} could not be read as PARQUET: {type(error).__name__}.",
                           table) from error
    schema = parquet.schema_arrow
    header = check_header(list(schema.names), path.name, table)
    if parquet.metadata.num_rows > pack_limits()["rows_per_table"]:
        raise over_limit(f"{path.name} has", "rows", "rows_per_table", table=table)
    for position, column in enumerate(schema, start=1):
        if text_conversion(column.type) is None:
            raise PackRejected("unreadable", f"{path.name}: {safe_column_label(column.name, position)} is of a type "
                               f"({column.type}) that cannot be read as the contract's text, numbers or dates.",
                               table)

    text_columns = [field.name for field in schema if text_conversion(field.type) == "text"]

    def read_rows(table_file: TableFile) -> Iterator[pa.RecordBatch]:
        try:
            # Text columns are read dictionary-encoded, so that their size once decoded is known (and a
            # value over the length limit refused) before it is decoded, a slice at a time.
            encoded = pq.ParquetFile(path, read_dictionary=text_columns)
            for batch in encoded.iter_batches(batch_size=BATCH_ROWS):
                for piece in slices_within(batch, table_file):
                    yield pa.record_batch([as_text(column) for column in piece.columns], names=table_file.columns)
        except pa.ArrowException as error:
            raise PackRejected("unreadable", f"{path.name} could not be read as PARQUET: {type(error).__name__}.",
                               table) from error

    return TableFile(table, path.name, header, read_rows)


def slices_within(batch: pa.RecordBatch, table_file: TableFile) -> Iterator[pa.RecordBatch]:
    """The batch in slices of at most BATCH_CHARACTERS once decoded; a dictionary value over the
    cell length limit refuses the file before anything is decoded."""
    row_chars = np.zeros(batch.num_rows, dtype=np.int64)
    for position, column in enumerate(batch.columns, start=1):
        if not pa.types.is_dictionary(column.type):
            continue
        lengths = pc.fill_null(pc.utf8_length(column.dictionary), 0)
        if not len(lengths):
            continue  # every value blank
        if pc.max(lengths).as_py() > table_file.field_chars:
            raise PackRejected("over_limit", f"{table_file.source_file}: "
                               f"{safe_column_label(table_file.header[position - 1], position)} holds a value "
                               f"longer than {table_file.field_chars:,} characters (the limit "
                               f"{table_file.limits_section}.field_chars in config/limits.yaml).", table_file.table)
        indices = pc.fill_null(column.indices, 0)
        row_chars += lengths.to_numpy(zero_copy_only=False)[indices.to_numpy(zero_copy_only=False)]
    start, total = 0, 0
    for row, chars in enumerate(row_chars):
        if total + chars > BATCH_CHARACTERS and row > start:
            yield batch.slice(start, row - start)
            start, total = row, 0
        total += chars
    if start < batch.num_rows:
        yield batch.slice(start)


def text_conversion(kind: pa.DataType) -> str | None:
    if pa.types.is_dictionary(kind):
        return text_conversion(kind.value_type)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return "text"
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_decimal(kind):
        return "cast"
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return "date"
    if (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and text_conversion(kind.value_type) == "text":
        return "list"  # a list of codes, such as harm_types, joined with the contract's separator
    return None


def as_text(column: pa.Array) -> pa.Array:
    """A Parquet column as the text the contract reads; nulls are blank."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    how = text_conversion(column.type)
    if how == "date":
        is_timestamp = pa.types.is_timestamp(column.type)
        text = pc.strftime(column, format="%Y-%m-%d") if is_timestamp else column.cast(pa.string())
    elif how == "float":
        whole = pc.and_(pc.is_finite(column), pc.equal(pc.floor(column), column))
        as_int = pc.cast(pc.if_else(whole, column, 0), pa.int64(), safe=False).cast(pa.string())
        text = pc.if_else(whole, as_int, column.cast(pa.string()))
        text = pc.if_else(pc.is_nan(column), pa.scalar(None, pa.string()), text)
    elif how == "list":
        text = pc.binary_join(column, contract()["tables"]["cases"]["columns"]["harm_types"]["separator"])
    elif how == "cast":
        text = column.cast(pa.string())
        if pa.types.is_boolean(column.type):
            text = pc.utf8_capitalize(text)
    else:
        text = column.cast(pa.string())
    return pc.fill_null(text, "")
