"""Excel workbooks: the archive checked before anything is decompressed, then each sheet read row by
row with openpyxl, its formulas read too where it has any (a formula Excel never calculated is told
from a blank cell). Every cell becomes the text the contract reads; dates become ISO dates."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from assets.config import limits
from assets.table_files import (
    BATCH_CHARACTERS,
    BATCH_ROWS,
    CellProblem,
    PackRejected,
    TableFile,
    check_header,
    check_size,
    over_limit,
    pack_limits,
    text_batch,
)

BLOCK = 1 << 20
EXCEL_MAX_ROWS = 1_048_576
FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


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
        formulas_book = values = formulas = None
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
            # A sheet's rows are read from a stream inside the workbook, which keeps the file open
            # after the workbook is closed until the stream is: close the row readers first (the
            # formulas' reader is rarely read to its end).
            for reader in (values, formulas):
                if reader is not None:
                    reader.close()
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
