"""CSV tables: the encoding, separator and header found first, then the rows read with Arrow's
streaming reader (or, for a file whose rows are shorter than its header, Python's csv module),
within the limits of config/limits.yaml. A problem names the line, never a value."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from assets.config import contract
from assets.table_files import (
    BATCH_CHARACTERS,
    BATCH_ROWS,
    PackRejected,
    ReadAgain,
    TableFile,
    check_header,
    check_size,
    pack_limits,
    read_all_again,
    text_batch,
)

BLOCK = 1 << 20


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
