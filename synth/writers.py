"""Pack styles and the writers that encode a logical pack in one of them: CSV (encodings,
separators, line endings), Parquet and Excel workbooks, with Y/N and code spelling variants, every
one valid under the contract. Workbooks are rewritten so that re-runs are byte-identical."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from synth.cases import LogicalPack, Raw
from synth.draws import chance
from synth.vocabulary import TABLES, column_types, yes_no_pairs

# Text encodings of values. The contract lists the accepted forms; tests check these are among them.
ISO_DATE = "%Y-%m-%d"
UK_DATE = "%d/%m/%Y"
EXCEL_DATE_FORMAT = "DD/MM/YYYY"

# Fixed timestamp written into every workbook so that re-runs are byte-identical.
_ZIP_TIMESTAMP = (2026, 1, 1, 0, 0, 0)
_CORE_XML_TIMESTAMP = b"2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class PackStyle:
    """How a pack's values and files are encoded. Every style is valid under the contract."""

    label: str
    workbook: bool = False  # one <pack>.xlsx with a sheet per table instead of a folder
    file_formats: tuple[str, ...] = ("csv",) * len(TABLES)  # per table (contract order), folder packs only
    encoding: str = "utf-8"
    delimiter: str = ","
    line_terminator: str = "\n"
    text_date_format: str = ISO_DATE
    excel_date_cells: bool = False  # in .xlsx files: real date cells rather than text
    yes_no: tuple[str, str] = ("Y", "N")
    yes_no_mixed_case: bool = False
    odd_codes: bool = False  # codes in random letter case with surrounding spaces

    @property
    def all_csv(self) -> bool:
        return not self.workbook and set(self.file_formats) == {"csv"}


CSV_STYLE = PackStyle("csv utf-8")


def _yes_no(yes: str, upper: bool = False) -> tuple[str, str]:
    """A Y/N spelling pair from the contract's accepted values."""
    pair = (yes, yes_no_pairs()[yes])
    return (pair[0].upper(), pair[1].upper()) if upper else pair


def mixed_styles() -> list[PackStyle]:
    """The pack styles cycled through in mixed mode: mostly CSV folders, plus every other form."""
    return [
        PackStyle("csv utf-8"),
        PackStyle("csv utf-8 BOM, UK dates, yes/no", encoding="utf-8-sig", line_terminator="\r\n",
                  text_date_format=UK_DATE, yes_no=_yes_no("yes"), yes_no_mixed_case=True),
        PackStyle("csv cp1252 semicolon, UK dates, odd codes", encoding="cp1252", delimiter=";",
                  line_terminator="\r\n", text_date_format=UK_DATE, yes_no=_yes_no("y"),
                  yes_no_mixed_case=True, odd_codes=True),
        PackStyle("parquet strings, true/false", file_formats=("parquet",) * len(TABLES),
                  yes_no=_yes_no("true"), yes_no_mixed_case=True),
        PackStyle("xlsx workbook, date cells", workbook=True, excel_date_cells=True),
        PackStyle("csv utf-8, 1/0, odd codes", yes_no=_yes_no("1"), odd_codes=True),
        PackStyle("xlsx workbook, text UK dates, odd codes", workbook=True,
                  text_date_format=UK_DATE, yes_no=_yes_no("yes", upper=True), odd_codes=True),
        PackStyle("csv utf-8"),
        # contexts as an .xlsx file and case_contexts as Parquet, so each table comes in each form.
        PackStyle("folder csv+parquet+xlsx", file_formats=("csv", "parquet", "xlsx", "xlsx", "parquet"),
                  excel_date_cells=True, yes_no=_yes_no("yes"), yes_no_mixed_case=True),
        PackStyle("csv utf-8 BOM", encoding="utf-8-sig", line_terminator="\r\n"),
    ]


def assign_styles(packs: Sequence[LogicalPack], formats: str, seed: int) -> dict[str, PackStyle]:
    """Pack name -> style. Mixed mode cycles a seeded shuffle of the styles so every style
    appears once there are at least as many packs as styles."""
    if formats == "csv":
        return {pack.name: CSV_STYLE for pack in packs}
    styles = mixed_styles()
    random.Random(f"synth:{seed}:styles").shuffle(styles)
    return {pack.name: styles[index % len(styles)] for index, pack in enumerate(packs)}


def pack_entry_name(pack: LogicalPack, style: PackStyle) -> str:
    """The pack's file or folder name in ``out_dir`` (as used in the manifest)."""
    return f"{pack.name}.xlsx" if style.workbook else pack.name


class _ValueEncoder:
    """Turns logical values into the text or cell values of one pack style.

    ``target`` is "text" (CSV), "parquet" (string columns, nulls for blanks) or "excel" (cells).
    Its own random stream decides spelling variants, so variants never disturb the data itself.
    """

    def __init__(self, style: PackStyle, rng: random.Random, target: str) -> None:
        self.style = style
        self.rng = rng
        self.target = target

    def _vary_case(self, text: str) -> str:
        return self.rng.choice((text, text.upper(), text.lower(), text.title()))

    def _odd_code(self, code: str) -> str:
        if not self.style.odd_codes or chance(self.rng, 0.4):
            return code
        padding = self.rng.choice(((" ", ""), ("", " "), (" ", " "), ("  ", " ")))
        return f"{padding[0]}{self._vary_case(code)}{padding[1]}"

    def encode(self, kind: str, value: Any) -> Any:
        """Encode one value of contract type ``kind`` (text, integer, code, codelist, yn, date)."""
        if isinstance(value, Raw):
            return value.text
        if value is None:
            return "" if self.target == "text" else None
        if kind == "yn":
            token = self.style.yes_no[0 if value else 1]
            return self._vary_case(token) if self.style.yes_no_mixed_case else token
        if kind == "code":
            return self._odd_code(value)
        if kind == "codelist":
            separator = "; " if self.style.odd_codes else ";"
            return separator.join(self._odd_code(code) for code in value)
        if kind == "integer":
            return value if self.target == "excel" else str(value)
        if kind == "date":
            if self.target == "excel" and self.style.excel_date_cells:
                return value
            return value.strftime(self.style.text_date_format)
        return str(value)


def _encoded_rows(
    pack: LogicalPack, table: str, encoder: _ValueEncoder
) -> tuple[list[str], list[list[Any]]]:
    """Header and encoded rows of one table; extra (non-contract) columns are plain text."""
    kinds = column_types(table)
    columns = pack.columns[table]
    rows = [
        [encoder.encode(kinds.get(column, "text"), row.get(column)) for column in columns]
        for row in pack.tables[table]
    ]
    return columns, rows


def _write_csv(path: Path, header: list[str], rows: list[list[Any]], style: PackStyle) -> None:
    with path.open("w", encoding=style.encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=style.delimiter, lineterminator=style.line_terminator)
        writer.writerow(header)
        writer.writerows(rows)


def _write_parquet(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """All columns as strings, as many LA systems export them; blanks are nulls."""
    columns = {
        name: pa.array([row[index] for row in rows], type=pa.string())
        for index, name in enumerate(header)
    }
    pq.write_table(pa.table(columns), path)


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite an .xlsx so it no longer depends on the clock (zip entry times, core.xml stamps)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rb"\g<1>" + _CORE_XML_TIMESTAMP + rb"\g<2>",
                    payload,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIMESTAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, payload)
    return output.getvalue()


def _xlsx_bytes(sheets: Sequence[tuple[str, list[str], list[list[Any]]]]) -> bytes:
    """A workbook with one sheet per (title, header, rows); dates become real date cells."""
    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title)
        sheet.append(header)
        for values in rows:
            cells = []
            for value in values:
                if isinstance(value, dt.date):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = EXCEL_DATE_FORMAT
                    cells.append(cell)
                else:
                    cells.append(value)
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _deterministic_zip(buffer.getvalue())


def clear_pack_slot(out_dir: Path, pack_name: str) -> None:
    """Remove an earlier run's copy of this pack (folder or workbook) so no stale file remains."""
    folder = out_dir / pack_name
    if folder.is_dir():
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
    workbook = out_dir / f"{pack_name}.xlsx"
    if workbook.exists():
        workbook.unlink()


_ENCODER_TARGETS = {"csv": "text", "parquet": "parquet", "xlsx": "excel"}


def write_pack(
    out_dir: Path, pack: LogicalPack, style: PackStyle, seed: int | str, name: str | None = None
) -> Path:
    """Write one logical pack in the given style and return its path.

    ``name`` overrides the pack name derived from its LA and quarter (for planted bad names).
    """
    name = name or pack.name
    clear_pack_slot(out_dir, name)
    rng = random.Random(f"synth:{seed}:encode:{name}")
    if style.workbook:
        encoder = _ValueEncoder(style, rng, "excel")
        sheets = [(table, *_encoded_rows(pack, table, encoder)) for table in pack.tables]
        path = out_dir / f"{name}.xlsx"
        path.write_bytes(_xlsx_bytes(sheets))
        return path

    folder = out_dir / name
    folder.mkdir(parents=True)
    for table, file_format in zip(TABLES, style.file_formats, strict=True):
        if table not in pack.tables:
            continue
        path = folder / f"{table}.{file_format}"
        if table in pack.empty_files:
            path.write_bytes(b"")
            continue
        encoder = _ValueEncoder(style, rng, _ENCODER_TARGETS[file_format])
        header, rows = _encoded_rows(pack, table, encoder)
        if file_format == "csv":
            _write_csv(path, header, rows, style)
        elif file_format == "parquet":
            _write_parquet(path, header, rows)
        else:
            path.write_bytes(_xlsx_bytes([(table, header, rows)]))
    return folder
