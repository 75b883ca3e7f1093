"""The open-data writer: any dataset, given as a typed frame, written as Explore Education
Statistics (EES) lays data out (docs/open-data.md), with the column metadata of config/exports.yaml.

A dataset's frame holds `la_code` (an LA's GSS code, a region's or a country's for DfE's own rows
with `area_level` saying which, PARTNERSHIP_CODE for the partnership), `time_period` (a whole
number), its filters (text), its indicators (Int64 or float64, missing where not published) and,
beside an indicator that may be unpublished, `<indicator>_status` (c, x or z; missing where the
value is published). From it come:
- `<name>.csv`: the time and geography columns in the standard's order, then the filters and the
  indicators, with c, x or z in the cell where no number is published (DfE's symbols);
- `<name>.meta.csv`: one row per filter and indicator (col_name, col_type, label, indicator_grouping,
  indicator_unit, indicator_dp, filter_hint, filter_grouping_column);
- `<name>.parquet`: the same columns, typed, with the status columns beside the values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from assets.config import load_yaml, local_authorities
from dashboards.publication import PARTNERSHIP_CODE, partnership_name

META_COLUMNS = ["col_name", "col_type", "label", "indicator_grouping", "indicator_unit", "indicator_dp",
                "filter_hint", "filter_grouping_column"]
# The code and name columns of each level these files use (EES open data standards, "Allowable
# geographic levels"); the partnership's level is set in config/publication.yaml.
LEVEL_COLUMNS = {
    "National": ("country_code", "country_name"),
    "Regional": ("region_code", "region_name"),
    "Local authority": ("new_la_code", "la_name"),
    "Police force area": ("pfa_code", "pfa_name"),
    "English devolved area": ("english_devolved_area_code", "english_devolved_area_name"),
    "Local authority district": ("lad_code", "lad_name"),
    # The benchmarks contract's one level outside EES's list (docs/open-data.md): the median over an
    # LA's statistical neighbours, on a row carrying that LA's codes and name.
    "Statistical neighbours (median)": ("new_la_code", "la_name"),
}
GEOGRAPHY_ORDER = ["country_code", "country_name", "region_code", "region_name", "new_la_code", "old_la_code",
                   "la_name", "pfa_code", "pfa_name", "english_devolved_area_code", "english_devolved_area_name",
                   "lad_code", "lad_name"]
TIME_COLUMNS = ["time_period", "time_identifier", "geographic_level"]
ENGLAND, WALES, ENGLAND_AND_WALES = ("E92000001", "England"), ("W92000004", "Wales"), ("K04000001", "England and Wales")
NOT_APPLICABLE = "z"  # the standard's code where a geography code does not apply (a Welsh LA's old code)
SYMBOLS = ("c", "x", "z", "low")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # Filter, Indicator, or Group (a filter that only groups another: no meta row)
    label: str
    description: str
    dtype: str = "string"
    unit: str = ""
    dp: int | None = None
    hint: str = ""
    grouped_by: str = ""
    places: int | None = None  # decimal places written in the CSV (default dp + 3: the file keeps the precision)


@cache
def export_config() -> dict:
    return load_yaml("exports.yaml")


def dataset_columns(name: str, words: dict[str, str] | None = None) -> list[Column]:
    """A dataset's own columns, in file order, from config/exports.yaml; `words` fill the {names}
    in labels and descriptions (the funnel's limits, for one)."""
    spec = export_config()["datasets"][name]
    fill = (lambda text: str(text).format(**words)) if words else str
    columns = []
    for key, entry in (spec.get("filters") or {}).items():
        columns.append(Column(key, "Group" if entry.get("group") else "Filter", fill(entry["label"]),
                              " ".join(fill(entry["description"]).split()), hint=fill(entry.get("hint", "")),
                              grouped_by=entry.get("grouped_by", "")))
    for key, entry in (spec.get("indicators") or {}).items():
        columns.append(Column(key, "Indicator", fill(entry["label"]), " ".join(fill(entry["description"]).split()),
                              dtype=entry["dtype"], unit=entry.get("unit", ""), dp=entry.get("dp"),
                              places=entry.get("places")))
    return columns


@cache
def partnership_geography() -> dict:
    spec = load_yaml("publication.yaml")["partnership"]
    return {"level": str(spec["geographic_level"]), "code": str(spec["code"]), "name": partnership_name()}


@cache
def region_names() -> dict[str, str]:
    return {la.region_code: la.region_name for la in local_authorities().values()}


@cache
def old_la_codes() -> dict[str, str]:
    """DfE's three-digit codes (config/la_codes.csv, from table C3); a Welsh LA has none."""
    import csv

    from assets.config import CONFIG_DIR

    with open(CONFIG_DIR / "la_codes.csv", encoding="utf-8", newline="") as handle:
        return {row["la_code"]: row["old_la_code"] or NOT_APPLICABLE for row in csv.DictReader(handle)}


def country_of(codes) -> tuple[str, str]:
    countries = {ENGLAND if str(code).startswith("E") else WALES for code in codes}
    return countries.pop() if len(countries) == 1 else ENGLAND_AND_WALES


def geography(frame: pd.DataFrame, member_las: list[str]) -> pd.DataFrame:
    """The geography columns of every row, from its `la_code` (and `area_level` for DfE's regional
    and national rows). The partnership's country is its LAs' (England and Wales when it has both)
    and its region theirs when they share one."""
    las = local_authorities()
    partnership = partnership_geography()
    members = [las[code] for code in member_las if code in las]
    regions = {la.region_code for la in members}
    levels = frame["area_level"] if "area_level" in frame else pd.Series("", index=frame.index)
    rows = []
    for code, level in zip(frame["la_code"], levels, strict=True):
        row = dict.fromkeys(GEOGRAPHY_ORDER, "")
        if code == PARTNERSHIP_CODE:
            row["country_code"], row["country_name"] = country_of(la.code for la in members)
            if len(regions) == 1 and row["country_code"] == ENGLAND[0]:
                row["region_code"] = next(iter(regions))
                row["region_name"] = region_names()[row["region_code"]]
            code_column, name_column = LEVEL_COLUMNS[partnership["level"]]
            row[code_column], row[name_column] = partnership["code"], partnership["name"]
            rows.append({"geographic_level": partnership["level"], **row})
        elif level == "National":
            row["country_code"], row["country_name"] = ENGLAND if code == ENGLAND[0] else (code, code)
            rows.append({"geographic_level": "National", **row})
        elif level == "Regional":
            row["country_code"], row["country_name"] = ENGLAND
            row["region_code"], row["region_name"] = code, region_names().get(code, code)
            rows.append({"geographic_level": "Regional", **row})
        else:
            la = las[code]
            row["country_code"], row["country_name"] = country_of([code])
            row["region_code"], row["region_name"] = la.region_code, la.region_name
            row["new_la_code"], row["old_la_code"], row["la_name"] = code, old_la_codes()[code], la.name
            rows.append({"geographic_level": level if level in LEVEL_COLUMNS else "Local authority", **row})
    out = pd.DataFrame(rows, index=frame.index, columns=["geographic_level", *GEOGRAPHY_ORDER])
    # Only the columns some level of this file needs: a file with no partnership row has no pfa_*.
    wanted = {"country_code", "country_name", "region_code", "region_name"}
    for level in set(out["geographic_level"]):
        wanted |= set(LEVEL_COLUMNS[level])
        if LEVEL_COLUMNS[level] == LEVEL_COLUMNS["Local authority"]:
            wanted |= {"old_la_code"}
    return out[["geographic_level", *[c for c in GEOGRAPHY_ORDER if c in wanted]]]


def typed_table(name: str, frame: pd.DataFrame, time_identifier: str, columns: list[Column],
                member_las: list[str]) -> pd.DataFrame:
    """The dataset as Parquet holds it: time, geography, filters and indicators typed, and a
    `<indicator>_status` column beside each indicator that has one."""
    clash = [c.name for c in columns if c.name.endswith("_status")]
    if clash:
        raise ValueError(f"export {name}: {', '.join(clash)}: a name ending _status is kept for status columns")
    missing = [c.name for c in columns if c.name not in frame]
    if missing:
        raise ValueError(f"export {name}: no column {', '.join(missing)} (config/exports.yaml lists it)")
    place = geography(frame, member_las)
    out = pd.DataFrame({"time_period": frame["time_period"].astype("Int64"),
                        "time_identifier": pd.Series(time_identifier, index=frame.index, dtype="string")})
    for column in place.columns:
        out[column] = place[column].astype("string")
    for column in columns:
        if column.kind == "Indicator":
            out[column.name] = frame[column.name].astype(column.dtype)
            status = f"{column.name}_status"
            out[status] = (frame[status] if status in frame else pd.Series(pd.NA, index=frame.index)).astype("string")
            # A value with no status and nothing to show is not applicable (nothing to divide by).
            out.loc[out[column.name].isna() & out[status].isna(), status] = "z"
        else:
            out[column.name] = frame[column.name].astype("string")
    return out.reset_index(drop=True)


def csv_table(table: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """The CSV's cells: status columns folded into their indicators as c, x or z; numbers written
    to `dp` + 3 places (EES shows `dp`, the file keeps the precision)."""
    statuses = {f"{c.name}_status" for c in columns if c.kind == "Indicator"}
    out = table[[c for c in table.columns if c not in statuses]].astype(object)
    out["time_period"] = table["time_period"].astype(str)
    for column in columns:
        if column.kind != "Indicator":
            continue
        values, status = table[column.name], table[f"{column.name}_status"]
        if column.dtype == "Int64":
            text = [None if pd.isna(v) else str(int(v)) for v in values]
        else:
            places = column.places if column.places is not None else (column.dp if column.dp is not None else 2) + 3
            text = [None if pd.isna(v) else f"{v:.{places}f}" for v in values]
        out[column.name] = [s if not pd.isna(s) else t for s, t in zip(status, text, strict=True)]
    return out.fillna("")


def meta_table(columns: list[Column]) -> pd.DataFrame:
    """The EES metadata: a row per filter and indicator (a column that only groups has none)."""
    rows = []
    for column in columns:
        if column.kind == "Group":
            continue
        indicator = column.kind == "Indicator"
        rows.append({"col_name": column.name, "col_type": column.kind, "label": column.label,
                     "indicator_grouping": "", "indicator_unit": column.unit if indicator else "",
                     "indicator_dp": "" if not indicator or column.dp is None else str(column.dp),
                     "filter_hint": "" if indicator else column.hint,
                     "filter_grouping_column": "" if indicator else column.grouped_by})
    return pd.DataFrame(rows, columns=META_COLUMNS)


def parquet_type(dtype) -> str:
    return {"Int64": "Int64 (integer, nullable)", "Float64": "float64", "float64": "float64"}.get(str(dtype), "string")


FILE_NAME = re.compile(r"[a-z0-9_-]+")
# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Every CSV the exports write goes through here: text from config (titles, questions, names)
    could otherwise run as a formula when a researcher opens the file in a spreadsheet."""
    frame.map(neutralised).to_csv(path, index=False)


def neutralised(cell):
    """A text cell a spreadsheet would read as a formula, with a ' in front so that it is read as
    text; numbers (negative ones too, and numbers written as text) and the symbols c, x and z are
    left as they are. Parquet files keep the original: their columns are typed, not formulas."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START) and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def write_dataset(folder: Path, name: str, frame: pd.DataFrame, member_las: list[str],
                  words: dict[str, str] | None = None) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """Write one dataset's CSV, .meta.csv and Parquet; return the file names and its rows of the
    data dictionary (file, column, parquet type, description)."""
    if not FILE_NAME.fullmatch(name):
        raise ValueError(f"export {name!r}: EES file names are lower case letters, digits, _ and -")
    spec = export_config()["datasets"][name]
    time = export_config()["time"][spec["time"]]
    columns = dataset_columns(name, words)
    table = typed_table(name, frame, time["time_identifier"], columns, member_las)
    write_csv(csv_table(table, columns), folder / f"{name}.csv")
    write_csv(meta_table(columns), folder / f"{name}.meta.csv")
    table.to_parquet(folder / f"{name}.parquet", index=False)
    described = {c.name: c.description for c in columns}
    described["time_period"] = " ".join(time["description"].split())
    dictionary = []
    for column in table.columns:
        if column.endswith("_status"):
            text = f"Parquet only: why {column[:-7]} is null (c confidential, x not available, z not applicable)."
        else:
            text = described.get(column, "")
        dictionary.append((name, column, parquet_type(table[column].dtype), text))
    return [f"{name}.csv", f"{name}.meta.csv", f"{name}.parquet"], dictionary
