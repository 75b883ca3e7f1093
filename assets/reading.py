"""Find export packs in an inbox, tell what each one is, and open its tables.

A pack is a folder `<LA code>_<period>/` of table files or one workbook `<LA code>_<period>.xlsx`
(docs/export-pack.md). Nothing in an inbox is trusted: a name that is not a pack name is never
stored or shown (it could be a child's name), a link is never followed, a hidden folder is
reported rather than skipped, and every table is opened within config/limits.yaml
(assets/table_files.py reads the rows)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assets.config import contract, local_authorities
from assets.csv_files import open_csv, read_csv_text
from assets.parquet_files import open_parquet
from assets.table_files import PackRejected, ReadAgain, TableFile, read_all_again
from assets.workbooks import (
    BEYOND_HEADER,
    as_scanned_sheet,
    cell_text,
    check_sheet_header,
    open_workbook,
    open_xlsx_table,
)

__all__ = ["PackRejected", "ReadAgain", "RawTable", "Pack", "TABLES", "REQUIRED_TABLES", "cell_text", "read_csv_text"]

# Every table of the contract, in its order; a pack must send the required ones, and may leave out
# those marked optional (v1.1's contexts and case_contexts), which are then read as empty.
TABLES = tuple(contract()["tables"])
REQUIRED_TABLES = tuple(t for t in TABLES if not contract()["tables"][t].get("optional"))
OPTIONAL_TABLES = tuple(t for t in TABLES if t not in REQUIRED_TABLES)
TABLE_SUFFIXES = (".csv", ".xlsx", ".parquet")
PACK_NAME = re.compile(r"^(?P<la_code>[A-Za-z0-9]+)_(?P<period>[0-9A-Za-z]+)$")
# A name that can be stored and shown as it is: an LA code and a quarter, well formed or nearly.
SAFE_PACK_NAME = re.compile(r"^[A-Za-z]\d{8}_\d{4}Q\d{1,2}(\.xlsx)?$", re.I)
PERIOD = re.compile(r"^(?P<year>\d{4})Q(?P<quarter>[1-4])$")
IGNORED_FILES = ("faults_manifest.json",)


class RawTable:
    """One table held whole in memory, every cell as text ('' for blank): for small tables (tests,
    tools, a batch of rows on its way through a mapping profile).

    A pandas frame is made only when something asks for one, and Arrow only when asked too."""

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

    # A RawTable reads like a TableFile (assets.table_files), so a table already in memory (mapped by
    # hand, built in a test) goes through the same intake as one streamed from a file.
    hidden = False

    @property
    def problems(self) -> list:
        return []  # a table in memory has no cells its reader could not read

    @property
    def table(self) -> str:
        return self.name

    @property
    def header(self) -> list[str]:
        return [str(c) for c in self.columns]

    def where(self, row_number: int) -> str:
        return f"row {row_number}"

    def batches(self):
        yield from self.arrow.cast(pa.schema([(str(c), pa.string()) for c in self.columns])).to_batches()

    def read_all(self) -> pa.Table:
        return self.arrow.cast(pa.schema([(str(c), pa.string()) for c in self.columns]))


@dataclass
class Pack:
    """A pack as found in the inbox. `source` is how it is stored and shown: its name when that is
    a pack name, otherwise a description that cannot carry what the name said."""

    source: str
    path: Path
    la_code: str | None = None
    period: str | None = None
    content_sha256: str = ""
    refusal: PackRejected | None = None  # what is wrong with the entry itself (a link, a hidden folder)
    tables: dict[str, TableFile] = field(default_factory=dict)
    other_sheets: list[TableFile] = field(default_factory=list)  # sheets that are not tables: scanned only
    mapped_columns: dict[str, list[str]] = field(default_factory=dict)  # table -> its columns once mapped
    absent_tables: set[str] = field(default_factory=set)  # optional tables the pack did not send

    @property
    def has_contexts(self) -> bool:
        """Whether the pack sent a contexts table (contract v1.1); one of no rows that load counts as
        none when the pack is loaded (assets.warehouse.load_batch)."""
        return "contexts" not in self.absent_tables

    @property
    def key(self) -> str:
        """The pack's key, `<LA code>|<period>`; an entry whose name does not parse is keyed by its
        stored description, so that it is still seen, and rejected."""
        return pack_key(self.la_code, self.period) if self.la_code else self.source

    @property
    def quarter(self) -> str | None:
        """The quarter the pack is for, when its name says one (its Dagster partition); None for an
        inbox entry that is not a quarter's pack (refused on its own)."""
        return self.period if self.la_code and PERIOD.match(self.period or "") else None


def pack_key(la_code: str, period: str) -> str:
    """A pack's key, `<LA code>|<period>`: how runs name it (`rerun`, forced packs), and what
    warehouse.PACK_SCOPE matches."""
    return f"{la_code}|{period}"


def pack_of_key(key: str) -> tuple[str, str] | None:
    """(LA code, period) of a pack key; None for the key of an entry whose name is not a pack's."""
    la_code, separator, period = key.partition("|")
    return (la_code, period) if separator else None


def pack_keys(packs) -> list[str]:
    """The keys of (LA code, period) pairs."""
    return [pack_key(la_code, period) for la_code, period in packs]


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
    """Pack folders and workbooks in the inbox, in name order, links and hidden folders included
    (they are refused by name, not passed over in silence). Hidden files, Excel's lock files and
    files of other kinds are not packs."""
    if not inbox.exists():
        return []
    found = []
    for entry in inbox.iterdir():
        if entry.name in IGNORED_FILES or entry.name.startswith("~$"):
            continue
        if entry.is_symlink() or entry.is_dir():
            found.append(entry)
        elif entry.suffix.lower() == ".xlsx" and not entry.name.startswith("."):
            found.append(entry)
    return sorted(found)


def stored_name(path: Path, safe: Callable[[str], bool] | None = None) -> str:
    """The entry's name when it is a pack name (or passes `safe`); otherwise 'unnamed folder',
    'unnamed workbook', 'unnamed file' or 'unnamed link' with the entry's inode number, which finds
    it (`ls -i`) without saying anything about it."""
    if not path.name.startswith(".") and (safe or SAFE_PACK_NAME.match)(path.name):
        return path.name
    kind = ("link" if path.is_symlink() else "folder" if path.is_dir()
            else "workbook" if path.suffix.lower() == ".xlsx" else "file")
    return f"unnamed {kind} {os.lstat(path).st_ino}"


def open_pack(path: Path, hash_content: bool = True) -> Pack:
    """A pack as found in the inbox: its name read as LA code and period, and its content hash."""
    pack = Pack(source=stored_name(path), path=path)
    if path.is_symlink():
        pack.refusal = PackRejected("link", f"{pack.source}: the inbox entry is a link. Links are not followed: "
                                    "copy the pack itself into the inbox.")
    elif path.name.startswith("."):
        pack.refusal = PackRejected("hidden_folder", f"{pack.source}: a hidden folder (its name starts with a dot) "
                                    "is not read. Rename it <LA code>_<period> if it is a pack, or remove it.")
    elif (link := first_link(path)) is not None:
        pack.refusal = PackRejected("link", f"{pack.source}: {link} is a link. Links are not followed: copy the "
                                    "file itself into the pack.")
    elif any(not (file.is_file() or file.is_dir()) for file in pack_files(path)):
        pack.refusal = PackRejected("unreadable", f"{pack.source}: holds something that is not a plain file (a "
                                    "pipe, a socket or a device). Send only the pack's table files.")
    name = path.stem if path.is_file() else path.name
    # Only a name shaped like a pack's is read as an LA code and a period: any other could be a
    # child's name, and the LA code and period are stored.
    match = PACK_NAME.match(name) if SAFE_PACK_NAME.match(path.name) else None
    if match and pack.refusal is None:
        pack.la_code, pack.period = match["la_code"].upper(), match["period"].upper()
    if hash_content:
        pack.content_sha256 = content_sha256(path)
    return pack


def pack_files(path: Path) -> list[Path]:
    """The files of a pack folder (or the workbook itself), in name order; links are not followed."""
    if path.is_symlink() or not path.is_dir():
        return [path]
    files = []
    for folder, subfolders, names in os.walk(path, followlinks=False):
        files += [Path(folder) / name for name in names]
        files += [Path(folder) / name for name in subfolders if (Path(folder) / name).is_symlink()]
    return sorted(files)


def first_link(path: Path) -> str | None:
    """How the first link inside a pack folder is named in a message ('a file', 'cases.csv')."""
    for file in pack_files(path):
        if file.is_symlink():
            return file.name if file.name.lower() in {f"{t}{s}" for t in TABLES for s in TABLE_SUFFIXES} else "a file"
    return None


def check_identity(pack: Pack) -> None:
    """The entry must be a pack (not a link or hidden folder), its LA code an English or Welsh LA's,
    its period a quarter."""
    if pack.refusal is not None:
        raise pack.refusal
    if pack.la_code is None:
        what = "folder" if pack.path.is_dir() else "workbook"
        raise PackRejected("bad_pack_name", f"{pack.source}: an inbox {what} whose name is not a pack name. The name "
                           "must be <LA code>_<period>, for example E06000001_2025Q3 (the name itself is not "
                           "stored, in case it identifies someone).")
    if pack.la_code not in local_authorities():
        raise PackRejected("unknown_la_code", f"{pack.source}: {pack.la_code} is not an English or Welsh "
                           "local authority code (see config/la_codes.csv).")
    if not PERIOD.match(pack.period):
        raise PackRejected("bad_period", f"{pack.source}: {pack.period} is not a quarter written YYYYQn, "
                           "for example 2025Q3.")


def content_sha256(path: Path) -> str:
    """Hash of a pack's content: file names and bytes, so a touched but unchanged pack is the same.
    A link is hashed as a link (its target's name), never followed. A pack is read once per process
    however often its hash is asked for (choosing a run's packs, loading them, the exit status),
    as long as none of its files has changed size, time or inode since."""
    files = pack_files(path)
    signature = (str(path), tuple((str(f), s.st_size, s.st_mtime_ns, s.st_ino, s.st_mode)
                                  for f in files for s in [os.lstat(f)]))
    if signature not in HASHED:
        HASHED[signature] = hash_files(path, files)
    return HASHED[signature]


HASHED: dict[tuple, str] = {}  # stat signature of a pack's files -> their content hash


def hash_files(path: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    base = path if path.is_dir() and not path.is_symlink() else path.parent
    for file in files:
        digest.update(str(file.relative_to(base)).encode())
        digest.update(b"\0")
        if file.is_symlink():
            digest.update(b"link:" + os.readlink(file).encode(errors="replace"))
            continue
        if not stat.S_ISREG(os.lstat(file).st_mode):
            digest.update(b"not a plain file")  # a pipe would block for ever: never opened
            continue
        try:
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            digest.update(b"unreadable")  # reading it for real says why; hashing never fails a run
    return digest.hexdigest()


def open_tables(pack: Pack, aliases: dict[str, str] | None = None) -> dict[str, TableFile]:
    """Open the pack's three tables (header and layout checked, no row read yet). Raises
    PackRejected for a missing, empty, unreadable or over-limit file.

    `aliases` gives an LA's own file or sheet name for a table (from its mapping profile)."""
    names = {table: table for table in TABLES}
    names.update({alias.strip().lower(): table for table, alias in (aliases or {}).items()})
    if pack.path.is_dir():
        found: dict[str, Path] = {}
        for file in pack_files(pack.path):
            table = names.get(file.stem.strip().lower())
            if file.parent == pack.path and file.suffix.lower() in TABLE_SUFFIXES and table:
                if table in found:
                    raise PackRejected("duplicate_table", f"{pack.source}: two files for table {table}.", table)
                found[table] = file
        for table in REQUIRED_TABLES:
            if table not in found:
                raise PackRejected("missing_table", f"{pack.source}: no file for table '{table}' "
                                   f"(expected {tables_expected()} as .csv, .xlsx or .parquet).", table)
        pack.tables = {table: open_table_file(found[table], table) if table in found else absent_table(pack, table)
                       for table in TABLES}
    else:
        pack.tables, pack.other_sheets = open_workbook_pack(pack, names)
    return pack.tables


def tables_expected() -> str:
    required = list(REQUIRED_TABLES)
    text = ", ".join(required[:-1]) + f" and {required[-1]}"
    if OPTIONAL_TABLES:
        text += ", and optionally " + " and ".join(OPTIONAL_TABLES)
    return text


def absent_table(pack: Pack, table: str) -> RawTable:
    """An optional table the pack did not send, read as a table of no rows (so it reconciles and
    loads nothing); the pack remembers it was absent."""
    pack.absent_tables.add(table)
    columns = list(contract()["tables"][table]["columns"])
    empty = pa.table({c: pa.array([], pa.string()) for c in columns})
    return RawTable(table, f"{pack.source}:{table} (not sent)", empty)


def open_table_file(file: Path, table: str) -> TableFile:
    """One table from a .csv, .xlsx (first sheet) or .parquet file."""
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return open_csv(file, table)
    if suffix == ".parquet":
        return open_parquet(file, table)
    return open_xlsx_table(file, table)


def open_workbook_pack(pack: Pack, names: dict[str, str]) -> tuple[dict[str, TableFile], list[TableFile]]:
    """A one-workbook pack: sheets cases, meetings and actions (or their names in `names`). Every
    other sheet, hidden or not, is kept to be scanned for identifiers; two sheets whose names both
    read as one table refuse the pack, since either could be the one meant."""
    sheets = open_workbook(pack.path, pack.source)
    tables: dict[str, TableFile] = {}
    others = []
    for position, sheet in enumerate(sheets, start=1):
        table = names.get(sheet.table.strip().lower())
        label = f"sheet {position}" + (" (hidden)" if sheet.hidden else "")
        if table is None:
            sheet.source_file = f"{pack.source}:{label}"
            others.append(as_scanned_sheet(sheet, label))
            continue
        if table in tables:
            hidden = ", one of them hidden" if sheet.hidden or tables[table].hidden else ""
            raise PackRejected("duplicate_table", f"{pack.source}: two sheets are named as table '{table}' "
                               f"({label} and another{hidden}). Keep one sheet for each table.", table)
        sheet.table, sheet.source_file = table, f"{pack.source}:{table}"
        check_sheet_header(sheet)
        tables[table] = sheet
    for table in REQUIRED_TABLES:
        if table not in tables:
            raise PackRejected("missing_table", f"{pack.source}: no sheet named '{table}' "
                               f"(expected sheets {tables_expected()}).", table)
    return {table: tables[table] if table in tables else absent_table(pack, table) for table in TABLES}, others


def read_tables(pack: Pack, aliases: dict[str, str] | None = None) -> dict[str, RawTable]:
    """The pack's three tables read whole into memory: for small packs (tests, tools). The pipeline
    streams them instead (assets.ingest)."""
    opened = open_tables(pack, aliases)
    pack.tables = {table: RawTable(table, source.source_file, without_empty_overflow(read_all_again(source)))
                   for table, source in opened.items()}
    return pack.tables


def without_empty_overflow(table: pa.Table) -> pa.Table:
    """A sheet's column of cells beyond its headings, dropped when it holds nothing."""
    if BEYOND_HEADER in table.column_names and not pc.any(pc.not_equal(table[BEYOND_HEADER], "")).as_py():
        return table.drop_columns([BEYOND_HEADER])
    return table


def read_workbook(path: Path, names: dict[str, str] | None = None) -> dict[str, RawTable]:
    """A one-workbook pack's three tables, read whole."""
    return read_tables(open_pack(path, hash_content=False), {t: a for a, t in (names or {}).items() if a != t})
