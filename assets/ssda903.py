"""SSDA903 (children looked after) return: missing and away-from-placement episodes.

A return arrives as a folder `<LA code>_<YYYY>_ssda903/` holding `missing.csv` (CHILD, DOB,
MISSING, MIS_START, MIS_END), and optionally `episodes.csv` (CHILD, DECOM, DEC, ...) and
`header.csv` (CHILD, SEX, DOB, ...), in the DfE column layout. YYYY is the year the return ends
(31 March YYYY).

What is kept, degraded and dropped on the way in (config/statutory/ssda903.yaml lists the columns):
- CHILD becomes child_key, the same keyed pseudonym as case_id and CIN's LAchildID;
- DOB becomes age in whole years at the start of each missing episode (and at the year end for
  children in care); the date itself is dropped;
- every other column (UPN, postcodes, mother's details, placement URNs...) is dropped unread.
Invalid values are quarantined per rule, with the row number and column, never the value.

A return is rejected as a whole (nothing from it loads) when missing.csv is absent, when a file is
over the size limit (config/limits.yaml statutory.csv_file_bytes), cannot be read as CSV, holds a
value longer than statutory.field_chars, or lacks a column the spec lists: every listed column is
read, so a file without one (say DOB) could not be used."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assets import config
from assets.config import load_yaml, local_authorities
from assets.contract_rules import rule_message
from assets.reading import PackRejected, read_csv_text
from assets.standardise import case_key
from assets.statutory_rejections import error_type, statutory_rejection

FOLDER_NAME = re.compile(r"^(?P<la_code>[A-Za-z0-9]{9})_(?P<year>\d{4})_ssda903$", re.I)


@dataclass
class MissingReturn:
    la_code: str
    year: int  # the return's year ends 31 March of this year
    source: str
    episodes: pd.DataFrame  # la_code, year, child_key, source_row, kind (missing|away), start_date, end_date,
    #                          duration_days, age_at_start
    children_in_care: pd.DataFrame  # la_code, year, child_key, sex, age_at_year_end (empty without episodes.csv)
    quarantine: pd.DataFrame  # la_code, period, source_file, table_name, row_number, column_name, rule, message
    rows_in: int


def spec() -> dict:
    return load_yaml("statutory/ssda903.yaml")


def year_bounds(year: int) -> tuple[dt.date, dt.date]:
    """The collection year ending 31 March `year`."""
    return dt.date(year - 1, 4, 1), dt.date(year, 3, 31)


def identify(path: Path) -> tuple[str, int]:
    match = FOLDER_NAME.match(path.name)
    if not match:
        raise PackRejected("bad_pack_name", "an inbox folder whose name is not an SSDA903 return's: it must be "
                           "<LA code>_<YYYY>_ssda903, for example E06000001_2025_ssda903.")
    la_code = match["la_code"].upper()
    if la_code not in local_authorities():
        raise PackRejected("unknown_la_code", f"{path.name}: {la_code} is not an English or Welsh LA code.")
    return la_code, int(match["year"])


def read_table(folder: Path, name: str, required: bool) -> pd.DataFrame | None:
    """One CSV of the return, only the columns config/statutory/ssda903.yaml lists, every value as
    trimmed text. Raises PackRejected, naming the file, when it is missing (and `required`), too large,
    unreadable, lacks a listed column or holds a value over the length limit."""
    file = next((f for f in folder.iterdir() if f.name.lower() == f"{name}.csv"), None)
    if file is None:
        if required:
            raise PackRejected("missing_table", f"{folder.name}: no {name}.csv.", name)
        return None
    shown = f"{folder.name}/{file.name}"
    if file.is_symlink() or not file.is_file():
        raise PackRejected("link" if file.is_symlink() else "unreadable", f"{shown} is "
                           + ("a link. Links are not followed: copy the file itself into the return's folder."
                              if file.is_symlink() else "not a plain file."), name)
    limits = config.limits()["statutory"]
    if file.stat().st_size > limits["csv_file_bytes"]:
        raise statutory_rejection("over_limit", shown, name, setting="csv_file_bytes",
                                  limit=limits["csv_file_bytes"])
    try:
        table = read_csv_text(file.read_bytes())
    except PackRejected as error:
        raise PackRejected(error.rule, f"{shown}: {error.message}", name) from error
    except Exception as error:  # e.g. the csv module's own field limit; its text is not repeated
        raise statutory_rejection("csv_unreadable", shown, name, error=error_type(error),
                                  limit=limits["field_chars"]) from None
    wanted = spec()["tables"][name]["columns"]
    names = [str(c).strip().upper() for c in table.column_names]
    check_field_lengths(table, names, set(wanted), shown, name, limits["field_chars"])
    # Every listed column is read below (and by the functions that use this table), so each must be there.
    missing = [c for c in wanted if c not in names]
    if missing:
        raise statutory_rejection("missing_column", shown, name, missing[0], columns=", ".join(wanted))
    # Only the columns the spec lists are ever looked at: the rest (UPN, postcodes...) are dropped here.
    frame = table.select([names.index(c) for c in wanted]).to_pandas()
    frame.columns = list(wanted)
    return frame.astype(str).apply(lambda s: s.str.strip())


def check_field_lengths(table: pa.Table, names: list[str], listed: set[str], shown: str, name: str,
                        limit: int) -> None:
    """Refuse the file when a header or a value is longer than `limit` characters. A column is named
    when it is one the spec lists, otherwise by its position: a header could itself be anything."""
    for index, header in enumerate(names):
        column = header if header in listed else f"number {index + 1} (counting from 1)"
        if len(header) > limit:
            raise statutory_rejection("field_too_long", shown, name, where=f"the header row, column {column}",
                                      limit=limit)
        lengths = pc.utf8_length(table.column(index).cast(pa.string()))
        over = pc.greater(lengths, limit)
        if pc.any(over).as_py():
            row = pc.index(over, True).as_py() + 1
            raise statutory_rejection("field_too_long", shown, name, header if header in listed else None,
                                      where=f"column {column}, row {row} (row 1 is the first after the header)",
                                      limit=limit)


def uk_date(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.where(values != ""), format="%d/%m/%Y", errors="coerce").dt.date


def known(date) -> bool:
    """Whether a date from `uk_date` is there: a blank or invalid one is NaT, which is truthy and
    cannot be compared with a date."""
    return date is not None and not pd.isna(date)


def whole_years(born: pd.Series, on: pd.Series) -> pd.Series:
    """Age in whole years on a date (birthday on that day counts)."""
    ages = [None if pd.isna(b) or pd.isna(o) else o.year - b.year - ((o.month, o.day) < (b.month, b.day))
            for b, o in zip(born, on, strict=True)]
    return pd.Series(ages, dtype="Int64", index=born.index)


def read_missing_return(folder: Path, secret: bytes) -> MissingReturn:
    """Read and check one SSDA903 return folder. Raises PackRejected for a file-level problem."""
    la_code, year = identify(folder)
    start, end = year_bounds(year)
    missing = read_table(folder, "missing", required=True)
    problems = []

    def quarantine(mask: pd.Series, column: str, rule: str) -> None:
        message = rule_message(rule, "missing", column)
        for row in mask[mask].index:
            problems.append((int(row) + 1, column, rule, message))

    kinds = spec()["tables"]["missing"]["columns"]["MISSING"]["values"]
    kind = missing["MISSING"].str.upper().map(kinds)
    started, ended, born = uk_date(missing["MIS_START"]), uk_date(missing["MIS_END"]), uk_date(missing["DOB"])
    quarantine(missing["CHILD"] == "", "CHILD", "required")
    quarantine(kind.isna() & (missing["MISSING"] != ""), "MISSING", "vocabulary")
    quarantine(missing["MISSING"] == "", "MISSING", "required")
    quarantine(missing["MIS_START"] == "", "MIS_START", "required")
    quarantine(started.isna() & (missing["MIS_START"] != ""), "MIS_START", "type_date")
    quarantine(ended.isna() & (missing["MIS_END"] != ""), "MIS_END", "type_date")
    quarantine(pd.Series([known(e) and known(s) and e < s for s, e in zip(started, ended, strict=True)],
                         index=missing.index), "MIS_END", "end_before_start")
    quarantine(pd.Series([known(s) and not start <= s <= end for s in started], index=missing.index),
               "MIS_START", "outside_year")
    bad_rows = {row - 1 for row, *_ in problems}
    keep = ~missing.index.isin(bad_rows)
    episodes = pd.DataFrame({
        "la_code": la_code,
        "year": year,
        "child_key": [case_key(secret, la_code, c) for c in missing.loc[keep, "CHILD"]],
        "source_row": (missing.index[keep] + 1).astype("int64"),
        "kind": kind[keep].to_numpy(),
        "start_date": pd.to_datetime(started[keep]).to_numpy(),
        "end_date": pd.to_datetime(ended[keep]).to_numpy(),
    })
    episodes["duration_days"] = (episodes["end_date"] - episodes["start_date"]).dt.days.astype("Int64")
    episodes["age_at_start"] = whole_years(born[keep].reset_index(drop=True),
                                           pd.Series(started[keep].to_numpy())).to_numpy()
    quarantine_frame = pd.DataFrame(problems, columns=["row_number", "column_name", "rule", "message"])
    quarantine_frame.insert(0, "table_name", "ssda903_missing")
    quarantine_frame.insert(0, "source_file", f"{folder.name}/missing.csv")
    quarantine_frame.insert(0, "period", str(year))
    quarantine_frame.insert(0, "la_code", la_code)
    return MissingReturn(la_code, year, folder.name, episodes, children_in_care(folder, la_code, year, secret),
                         quarantine_frame.sort_values(["row_number", "rule"], ignore_index=True), len(missing))


def children_in_care(folder: Path, la_code: str, year: int, secret: bytes) -> pd.DataFrame:
    """Children looked after at any time in the year (from episodes.csv), with sex and age at the
    year end from header.csv when it is there."""
    columns = ["la_code", "year", "child_key", "sex", "age_at_year_end"]
    episodes = read_table(folder, "episodes", required=False)
    if episodes is None:
        return pd.DataFrame(columns=columns)
    start, end = year_bounds(year)
    began, ceased = uk_date(episodes["DECOM"]), uk_date(episodes["DEC"])
    open_in_year = [known(b) and b <= end and (not known(c) or c >= start)
                    for b, c in zip(began, ceased, strict=True)]
    children = sorted(set(episodes.loc[open_in_year, "CHILD"]) - {""})
    frame = pd.DataFrame({"child": children})
    header = read_table(folder, "header", required=False)
    sexes = spec()["tables"]["header"]["columns"]["SEX"]["values"]
    if header is not None:
        header = header.drop_duplicates("CHILD").set_index("CHILD")
        frame["sex"] = frame["child"].map(header["SEX"]).map(sexes)
        born = uk_date(frame["child"].map(header["DOB"]).fillna(""))
        frame["age_at_year_end"] = whole_years(born, pd.Series([end] * len(frame)))
    else:
        frame["sex"], frame["age_at_year_end"] = None, pd.Series([None] * len(frame), dtype="Int64")
    frame.insert(0, "child_key", [case_key(secret, la_code, c) for c in frame.pop("child")])
    frame.insert(0, "year", year)
    frame.insert(0, "la_code", la_code)
    return frame[columns]
