"""Find export packs in an inbox and read their tables as text, whatever form they came in.

Every value is read as text (or blank) so that the contract's rules, not a file reader's guesses,
decide what a value means. Excel date cells become ISO dates, Excel numbers lose a spurious ".0".
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from assets.config import contract, local_authorities

TABLES = ("cases", "meetings", "actions")
TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")
PACK_NAME = re.compile(r"^(?P<la_code>[A-Za-z0-9]+)_(?P<period>[0-9A-Za-z]+)$")
PERIOD = re.compile(r"^(?P<year>\d{4})Q(?P<quarter>[1-4])$")


class PackRejected(Exception):
    """The pack is refused as a whole; nothing from it may be stored."""

    def __init__(self, rule: str, message: str, table: str | None = None, column: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.table = table
        self.column = column


class RawTable:
    """One table of a pack, every cell as text ('' for blank), with its source file name.

    A CSV is held as the Arrow table it was read into; a pandas frame is made only when something
    asks for one (a mapping profile, a test), since thousands of packs pass through untouched."""

    def __init__(self, name: str, source_file: str, data: pd.DataFrame | pa.Table):
        self.name = name
        self.source_file = source_file
        self._frame = data if isinstance(data, pd.DataFrame) else None
        self._arrow = data if isinstance(data, pa.Table) else None

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = self._arrow.to_pandas()
        return self._frame

    @property
    def arrow(self) -> pa.Table:
        if self._arrow is None:
            self._arrow = pa.Table.from_pandas(self._frame.astype(str), preserve_index=False)
        return self._arrow

    @property
    def columns(self) -> list[str]:
        return list(self._arrow.column_names if self._arrow is not None else self._frame.columns)

    @property
    def num_rows(self) -> int:
        return self._arrow.num_rows if self._arrow is not None else len(self._frame)

    def column(self, name: str) -> pa.ChunkedArray:
        """One column's text as Arrow strings."""
        return self.arrow.column(name).cast(pa.string())


@dataclass
class Pack:
    source: str  # folder or workbook name as found in the inbox
    path: Path
    la_code: str | None = None
    period: str | None = None
    content_sha256: str = ""
    tables: dict[str, RawTable] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The pack's partition key, `<LA code>|<period>`; a pack whose name does not parse is keyed
        by its own name, so that it is still seen, and rejected."""
        return f"{self.la_code}|{self.period}" if self.la_code else self.source


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of a quarter written YYYYQn."""
    match = PERIOD.match(period)
    if not match:
        raise ValueError(f"not a quarter: {period}")
    year, quarter = int(match["year"]), int(match["quarter"])
    start = dt.date(year, 3 * quarter - 2, 1)
    end = dt.date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1) - dt.timedelta(days=1)
    return start, end


def discover_packs(inbox: Path) -> list[Path]:
    """Pack folders and workbooks in the inbox, in name order. Hidden files are ignored."""
    if not inbox.exists():
        return []
    return sorted(
        entry
        for entry in inbox.iterdir()
        if not entry.name.startswith((".", "~$"))
        and (entry.is_dir() or entry.suffix.lower() == ".xlsx")
        and entry.name != "faults_manifest.json"
    )


def open_pack(path: Path, hash_content: bool = True) -> Pack:
    """A pack as found in the inbox: its name read as LA code and period, and its content hash."""
    name = path.stem if path.is_file() else path.name
    pack = Pack(source=path.name, path=path, content_sha256=content_sha256(path) if hash_content else "")
    match = PACK_NAME.match(name)
    if match:
        pack.la_code, pack.period = match["la_code"].upper(), match["period"].upper()
    return pack


def check_identity(pack: Pack) -> None:
    """The LA code must be an English or Welsh LA's, the period a quarter."""
    if pack.la_code is None:
        raise PackRejected("bad_pack_name", f"{pack.source}: the name must be <LA code>_<period>, "
                           "for example E06000001_2025Q3.")
    if pack.la_code not in local_authorities():
        raise PackRejected("unknown_la_code", f"{pack.source}: {pack.la_code} is not an English or Welsh "
                           "local authority code (see config/la_codes.csv).")
    if not PERIOD.match(pack.period):
        raise PackRejected("bad_period", f"{pack.source}: {pack.period} is not a quarter written YYYYQn, "
                           "for example 2025Q3.")


def content_sha256(path: Path) -> str:
    """Hash of a pack's content: file names and bytes, so a touched but unchanged pack is the same."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path if path.is_dir() else path.parent)).encode())
        digest.update(b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_tables(pack: Pack, aliases: dict[str, str] | None = None) -> dict[str, RawTable]:
    """Read the pack's three tables. Raises PackRejected for a missing, empty or unreadable file.

    `aliases` gives an LA's own file or sheet name for a table (from its mapping profile)."""
    names = {table: table for table in TABLES}
    names.update({alias.strip().lower(): table for table, alias in (aliases or {}).items()})
    if pack.path.is_dir():
        found: dict[str, Path] = {}
        for file in sorted(pack.path.iterdir()):
            table = names.get(file.stem.strip().lower())
            if file.suffix.lower() in TABLE_SUFFIXES and table:
                if table in found:
                    raise PackRejected("duplicate_table", f"{pack.source}: two files for table {table}.", table)
                found[table] = file
        for table in TABLES:
            if table not in found:
                raise PackRejected("missing_table", f"{pack.source}: no file for table '{table}' "
                                   "(expected cases, meetings and actions as .csv, .xlsx or .parquet).", table)
        tables = {table: read_table_file(found[table], table) for table in TABLES}
    else:
        tables = read_workbook(pack.path, names)
    pack.tables = tables
    return tables


def read_table_file(file: Path, table: str) -> RawTable:
    """One table from a .csv, .xlsx (first sheet) or .parquet file."""
    if file.stat().st_size == 0:
        raise PackRejected("empty_file", f"{file.name} is empty: it has no header row.", table)
    suffix = file.suffix.lower()
    try:
        if suffix == ".csv":
            frame = read_csv_text(file.read_bytes())
        elif suffix == ".parquet":
            frame = read_parquet_text(file)
        else:
            sheets = read_xlsx_sheets(file)
            frame = next(iter(sheets.values()))
    except PackRejected as error:
        raise PackRejected(error.rule, f"{file.name}: {error.message}", table) from error
    except Exception as error:  # any parser failure is the file's fault, reported plainly
        raise PackRejected("unreadable", f"{file.name} could not be read as {suffix[1:].upper()}: "
                           f"{type(error).__name__}.", table) from error
    return RawTable(table, file.name, tidy_header(frame, file.name, table))


def read_workbook(path: Path, names: dict[str, str] | None = None) -> dict[str, RawTable]:
    """A one-workbook pack: sheets cases, meetings and actions (or their names in `names`)."""
    names = names or {table: table for table in TABLES}
    if path.stat().st_size == 0:
        raise PackRejected("empty_file", f"{path.name} is empty.")
    try:
        sheets = {names.get(name.strip().lower()): frame for name, frame in read_xlsx_sheets(path).items()}
    except Exception as error:
        raise PackRejected("unreadable", f"{path.name} could not be read as an Excel workbook: "
                           f"{type(error).__name__}.") from error
    tables = {}
    for table in TABLES:
        if table not in sheets:
            raise PackRejected("missing_table", f"{path.name}: no sheet named '{table}' "
                               "(expected sheets cases, meetings and actions).", table)
        tables[table] = RawTable(table, f"{path.name}:{table}", tidy_header(sheets[table], path.name, table))
    return tables


def read_csv_text(data: bytes) -> pa.Table:
    """CSV in UTF-8 (with or without BOM) or Windows-1252, comma or semicolon separated."""
    text = None
    for encoding in contract()["values"]["encodings"]:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise PackRejected("unreadable", "the file is neither UTF-8 nor Windows-1252 text.")
    if not text.strip():
        raise PackRejected("empty_file", "the file has no header row.")
    text = text.lstrip("\r\n")  # blank lines before the header are not rows
    first_line = text.split("\n", 1)[0]
    separator = ";" if first_line.count(";") > first_line.count(",") else ","
    header = next(csv.reader([first_line], delimiter=separator))
    # Arrow's CSV reader, every column as text; rows that do not have the header's number of fields
    # go the slow way below. Column names are generated so that a header holding duplicate or blank
    # names still reads (tidy_header reports them).
    names = [f"f{i}" for i in range(len(header))]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False),
            parse_options=pa_csv.ParseOptions(delimiter=separator, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        # A row with fewer fields than the header (spreadsheets often drop trailing blanks) is read
        # with its missing fields blank, as before; a row with more fields is refused.
        table = read_csv_rows(text, separator, header)
    return table.rename_columns(header)


def read_csv_rows(text: str, separator: str, header: list[str]) -> pa.Table:
    """The slow path for a CSV Arrow refuses: short rows padded with blanks, a long row an error
    that names its line (never its values)."""
    rows = []
    for line, row in enumerate(csv.reader(io.StringIO(text), delimiter=separator), start=1):
        if not row or line == 1:
            continue
        if len(row) > len(header):
            raise PackRejected("unreadable", f"the file's rows do not line up with its header (line {line} has "
                               f"{len(row)} fields, the header {len(header)}; line 1 is the header). Quote values "
                               "that contain the separator, or use the other separator.")
        rows.append(row + [""] * (len(header) - len(row)))
    return pa.table({f"f{i}": pa.array([row[i] for row in rows], pa.string()) for i in range(len(header))})


def read_parquet_text(file: Path) -> pd.DataFrame:
    frame = pd.read_parquet(file)
    return frame.apply(lambda column: column.map(cell_text))


def read_xlsx_sheets(file: Path) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook as text; date cells become ISO dates."""
    import openpyxl

    workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    try:
        sheets = {}
        for sheet in workbook.worksheets:
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                sheets[sheet.title] = pd.DataFrame()
                continue
            width = len(header)
            body = [[cell_text(v) for v in row[:width]] + [""] * (width - len(row)) for row in rows
                    if any(v is not None and str(v).strip() for v in row)]
            names = ["" if h is None else str(h) for h in header]
            sheets[sheet.title] = pd.DataFrame(body, columns=names, dtype=str)
        return sheets
    finally:
        workbook.close()


def cell_text(value) -> str:
    """A cell from Excel or Parquet as the text the contract reads."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if value is pd.NaT:
        return ""
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def tidy_header(data: pd.DataFrame | pa.Table, file_name: str, table: str) -> pd.DataFrame | pa.Table:
    """Column names trimmed and lower-cased; a file without a header is empty."""
    columns = data.column_names if isinstance(data, pa.Table) else list(data.columns)
    if len(columns) == 0:
        raise PackRejected("empty_file", f"{file_name} has no header row.", table)
    names = [str(name).strip().lstrip("\ufeff").lower() for name in columns]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PackRejected("duplicate_column", f"{file_name}: column '{duplicates[0]}' appears twice.",
                           table, duplicates[0])
    if isinstance(data, pa.Table):
        return data.rename_columns(names)
    data.columns = names
    return data.astype(str)
