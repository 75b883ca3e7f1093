"""`safeguarding-audit export`: every published table as open data in the layout of Explore
Education Statistics (EES), checked against the rules of DfE's open data standards and its data
screener; CSV, .meta.csv and typed Parquet, a data dictionary, and nothing that should not be
published."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from dashboards.publication import partnership_name
from pipelines.run import execute_audit
from synth.packs import write_packs

CLI = str(Path(sys.executable).parent / "safeguarding-audit")

# ---------------------------------------------------------------- the EES rules
# From DfE's open data standards,
# https://dfe-analytical-services.github.io/analysts-guide/statistics-production/ud.html
# ("Time and geography", "Allowable geographic levels", "EES metadata", "Data symbols", "File
# names"), and the EES data screener's reference tables and checks,
# https://github.com/dfe-analytical-services/eesyscreener (data-raw/acceptable_values.R,
# data-raw/geography_df.R, R/check_geog_level_completed.R, R/check_geog_overcompleted_cols.R,
# R/check_filter_blanks.R, R/check_ind_invalid_entry.R, R/check_meta_*.R).

# Every file has these, first (the standard's mandatory columns, in its order).
MANDATORY = ["time_period", "time_identifier", "geographic_level", "country_code", "country_name"]
# time_identifier: the allowed values, in groups that may be mixed only within themselves, each
# with the digits of its time_period (ud.html "List of allowable time values", acceptable_values.R).
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
TIME_GROUPS = [({"Calendar year"}, 4), ({"Reporting year"}, 4), ({"Academic year"}, 6), ({"Financial year"}, 6),
               ({f"Financial year Q{n}" for n in range(1, 5)}, 6),
               ({"Part 1 (April to September)", "Part 2 (October to March)"}, 6), ({"Tax year"}, 6),
               ({"Autumn term", "Spring term", "Summer term"}, 6), ({"Autumn and spring term"}, 6),
               (set(MONTHS), 4), ({f"Week {n}" for n in range(1, 53)}, 4)]
# geographic_level: the allowed levels and the columns each must fill (code, name, secondary
# code), from geography_df.R. new_la_code may be blank for a legacy LA (check_geog_level_completed.R).
LEVELS = {
    "National": ("country_code", "country_name"),
    "Regional": ("region_code", "region_name"),
    "Local authority": ("old_la_code", "la_name"),
    "Local authority district": ("lad_code", "lad_name"),
    "RSC region": ("rsc_region_lead_name",),
    "Parliamentary constituency": ("pcon_code", "pcon_name"),
    "Local skills improvement plan area": ("lsip_code", "lsip_name"),
    "Local enterprise partnership": ("local_enterprise_partnership_code", "local_enterprise_partnership_name"),
    "English devolved area": ("english_devolved_area_code", "english_devolved_area_name"),
    "Opportunity area": ("opportunity_area_code", "opportunity_area_name"),
    "Ward": ("ward_code", "ward_name"),
    "MAT": ("trust_id", "trust_name"),
    "Sponsor": ("sponsor_id", "sponsor_name"),
    "School": ("school_urn", "school_name", "school_laestab"),
    "Provider": ("provider_ukprn", "provider_name"),
    "Institution": ("institution_id", "institution_name"),
    "Planning area": ("planning_area_code", "planning_area_name"),
    "Police force area": ("pfa_code", "pfa_name"),
}
# The geography columns of the standard, in the order of its tables.
GEOGRAPHY = ["country_code", "country_name", "region_code", "region_name", "new_la_code", "old_la_code", "la_name",
             "pfa_code", "pfa_name", "english_devolved_area_code", "english_devolved_area_name", "lad_code", "lad_name"]
# Which levels' rows may fill a level's columns (check_geog_overcompleted_cols.R): a region's
# columns on the rows of levels inside a region; an LA's on rows inside an LA (or a police force area).
MAY_FILL = {
    ("region_code", "region_name"): {"Regional", "Local authority", "Local authority district", "Police force area",
                                     "English devolved area", "Planning area"},
    ("new_la_code", "old_la_code", "la_name"): {"Local authority", "Local authority district", "Planning area",
                                                "Police force area"},
    ("pfa_code", "pfa_name"): {"Police force area"},
}
# The benchmarks contract (rows of an LA's statistical neighbours' median, carrying the LA's codes)
# needs a level EES does not have; it is allowed in benchmarks.csv only.
CONTRACT_LEVEL = "Statistical neighbours (median)"
META = ["col_name", "col_type", "label", "indicator_grouping", "indicator_unit", "indicator_dp", "filter_hint",
        "filter_grouping_column"]
UNITS = {"", "%", "pp", "£", "£m", "numberstring"}
SYMBOLS = {"c", "x", "z", "low", "u"}  # GSS symbols; ~ and : are obsolete (check_ind_invalid_entry.R)
# A filter named like a geography column is a mislabelled geography (check_meta_geog_catch.R).
GEOGRAPHY_LIKE = re.compile(
    r"(^(sch|prov|inst|estab|reg|la|local|rsc|pfa|pcon|lep|mca|oa|ward|mat).*(name|code|urn|ukprn|number|upin|id)$)"
    r"|(^(laestab|estab|sch|school|schools|prov|provider|providers|inst|institution|institutions|name|code|urn|"
    r"ukprn|number|upin|id|region|la|lad|rsc|pcon|lep|mca|oa|ward|mat)$)", re.I)
FILE_NAME = re.compile(r"[a-z0-9_-]+")  # lower case letters, digits, _ and - (File names)


def ees_problems(data: pd.DataFrame, meta: pd.DataFrame, name: str) -> list[str]:
    """Every way one data file and its metadata break the EES rules above."""
    problems = []
    if not FILE_NAME.fullmatch(name):
        problems.append(f"file name {name}")
    columns = list(data.columns)
    if columns[:5] != MANDATORY:
        problems.append(f"first columns {columns[:5]}")
    geography = [c for c in columns if c in GEOGRAPHY]
    if columns[:3 + len(geography)] != ["time_period", "time_identifier", "geographic_level", *geography]:
        problems.append("time and geography columns are not first")
    if geography != [c for c in GEOGRAPHY if c in geography]:
        problems.append(f"geography columns out of order: {geography}")
    identifiers = set(data["time_identifier"])
    group = next(((values, digits) for values, digits in TIME_GROUPS if identifiers <= values), None)
    if group is None:
        problems.append(f"time_identifier {sorted(identifiers)}")
    elif not data["time_period"].str.fullmatch(rf"\d{{{group[1]}}}").all():
        problems.append("time_period is not all numeric with the right digits")
    levels, may_fill = LEVELS, MAY_FILL
    if name in ("benchmarks", "cp_plans"):  # the benchmarks contract's own level, in docs/open-data.md
        levels = {**LEVELS, CONTRACT_LEVEL: ("new_la_code", "old_la_code", "la_name")}
        may_fill = {group: allowed | ({CONTRACT_LEVEL} if "la_name" in group or "region_code" in group else set())
                    for group, allowed in MAY_FILL.items()}
    for level in set(data["geographic_level"]) - set(levels):
        problems.append(f"geographic_level {level!r} is not allowed")
    if (data["country_code"] == "").any() or (data["country_name"] == "").any():
        problems.append("country columns blank")
    for level, needed in levels.items():
        rows = data[data["geographic_level"] == level]
        for column in needed:
            if len(rows) and (column not in data or (rows[column] == "").any()):
                problems.append(f"{level} rows without {column}")
    for group, allowed in may_fill.items():
        for column in (c for c in group if c in data):
            if (data.loc[~data["geographic_level"].isin(allowed), column] != "").any():
                problems.append(f"{column} filled on rows of another level")
    if list(meta.columns) != META:
        problems.append(f"meta columns {list(meta.columns)}")
        return problems
    if not meta["col_type"].isin(["Filter", "Indicator"]).all():
        problems.append("col_type other than Filter or Indicator")
    if (meta["label"] == "").any():
        problems.append("a meta label is blank")
    if not meta["indicator_unit"].isin(UNITS).all():
        problems.append(f"indicator_unit {set(meta['indicator_unit']) - UNITS}")
    if not meta["indicator_dp"].str.fullmatch(r"\d*").all():
        problems.append("indicator_dp not blank or a whole number")
    groups = set(meta["filter_grouping_column"]) - {""}
    described = set(meta["col_name"]) | groups
    for column in columns[3 + len(geography):]:
        if column not in described:
            problems.append(f"{column} is not described in the meta file")
    for column in set(meta["col_name"]) | groups:
        if column not in columns:
            problems.append(f"meta describes {column}, which the data lacks")
        if column in GEOGRAPHY or column in MANDATORY:
            problems.append(f"meta describes the geography or time column {column}")
    if groups & set(meta["col_name"]):
        problems.append("a filter grouping column has its own meta row")
    filters = meta.loc[meta["col_type"] == "Filter", "col_name"].tolist() + sorted(groups)
    for column in filters:
        if GEOGRAPHY_LIKE.search(column):
            problems.append(f"filter {column} looks like a geography column")
        if (data[column] == "").any():
            problems.append(f"filter {column} has a blank")
    for column in meta.loc[meta["col_type"] == "Indicator", "col_name"]:
        cells = data[column]
        numbers = pd.to_numeric(cells.where(~cells.isin(SYMBOLS)), errors="coerce")
        if (cells == "").any() or cells.isin(["~", ":"]).any() or (numbers.isna() & ~cells.isin(SYMBOLS)).any():
            problems.append(f"indicator {column} holds a blank, an obsolete symbol or text")
    return problems


@pytest.fixture(scope="module")
def small_home(tmp_path_factory):
    """Small packs, so that some counts are suppressed."""
    home = tmp_path_factory.mktemp("exports") / "home"
    write_packs(home / "inbox", las=3, quarters=2, seed=5, cases_per_la=9, formats="csv")
    assert execute_audit(dg.DagsterInstance.ephemeral(), home, home / "inbox").success
    return home


def datasets(folder: Path) -> list[str]:
    return sorted(p.name[:-len(".meta.csv")] for p in folder.glob("*.meta.csv"))


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_every_published_table_is_a_dataset_with_its_meta_and_parquet(small_home):
    folder = small_home / "exports"
    names = datasets(folder)
    assert set(names) == {"indicator_rates", "scores", "statutory_rates", "benchmarks", "cp_plans", "efh_pathway",
                          "audit_coverage", "funnel_flags", "spc_signals", "context_networks", "case_audits",
                          "audit_grades",
                          "submissions", "quarantine_rules"}
    for name in names:
        assert (folder / f"{name}.csv").exists() and (folder / f"{name}.parquet").exists()
    assert {"indicators.csv", "indicators.parquet", "data_dictionary.csv", "README.txt"} <= {
        p.name for p in folder.iterdir()}


def test_every_dataset_meets_the_ees_standards(small_home):
    folder = small_home / "exports"
    for name in datasets(folder):
        data, meta = read_csv(folder / f"{name}.csv"), read_csv(folder / f"{name}.meta.csv")
        assert ees_problems(data, meta, name) == [], name
    rates = read_csv(folder / "indicator_rates.csv")
    assert set(rates["time_identifier"]) == {"Calendar year"} and set(rates["quarter"]) == {"Q3", "Q4"}
    assert set(rates["geographic_level"]) == {"Local authority", "Police force area"}
    partnership = rates[rates["geographic_level"] == "Police force area"]
    assert set(partnership["pfa_code"]) == {"z"} and set(partnership["pfa_name"]) == {partnership_name()}
    assert (partnership["new_la_code"] == "").all()


def test_the_checks_catch_what_the_old_layout_got_wrong(small_home):
    """The rules are real: the layout these files had before (la_code, a 'Partnership' level with a
    blank code, 'Calendar year Q3') fails them."""
    folder = small_home / "exports"
    data, meta = read_csv(folder / "scores.csv"), read_csv(folder / "scores.meta.csv")
    old = data.rename(columns={"new_la_code": "la_code"})
    old["geographic_level"] = old["geographic_level"].replace("Police force area", "Partnership")
    old["time_identifier"] = "Calendar year Q" + old["quarter"].str[-1]
    problems = " ".join(ees_problems(old, meta, "scores"))
    assert "'Partnership' is not allowed" in problems and "time_identifier" in problems
    assert "time and geography columns are not first" in problems  # la_code is no EES column
    assert ees_problems(data, meta.iloc[:1], "scores")  # score left out of the meta file


def test_csv_and_parquet_load_into_pandas_with_the_documented_types(small_home):
    folder = small_home / "exports"
    dictionary = read_csv(folder / "data_dictionary.csv")
    documented = {(row.file, row.column): row.parquet_type for row in dictionary.itertuples()}
    expected = {"Int64 (integer, nullable)": "Int64", "float64": "float64", "string": "string"}
    for name in datasets(folder):
        table, csv = pd.read_parquet(folder / f"{name}.parquet"), read_csv(folder / f"{name}.csv")
        assert [c for c in table.columns if not c.endswith("_status")] == list(csv.columns)
        for column, dtype in table.dtypes.items():
            kind = documented[(name, column)] if (name, column) in documented else documented[("*", column)]
            assert str(dtype) == expected[kind], (name, column, dtype)
        assert str(table["time_period"].dtype) == "Int64"
        for status in (c for c in table.columns if c.endswith("_status")):
            value = table[status[:-len("_status")]]
            assert set(table[status].dropna()) <= {"c", "x", "z", "low", "u"}
            assert (value.isna() == table[status].notna()).all(), (name, status)
            shown = csv[status[:-len("_status")]]
            assert (shown[table[status].notna().to_numpy()] == table[status].dropna().to_numpy()).all()
    rates = pd.read_parquet(folder / "indicator_rates.parquet")
    assert rates["numerator_status"].eq("c").any()  # small packs: something is suppressed
    for column in ("numerator", "denominator"):
        assert not rates[column].dropna().between(1, 5).any()
    hidden = rates["numerator_status"].eq("c") | rates["denominator_status"].eq("c")
    assert rates.loc[hidden, "rate_percent"].isna().all()
    assert rates["rate_percent"].dropna().between(0, 100).all()


def test_funnel_flags_say_whether_a_flag_is_better_or_worse(small_home):
    flags = pd.read_parquet(small_home / "exports" / "funnel_flags.parquet")
    definitions = pd.read_csv(small_home / "exports" / "indicators.csv").set_index("indicator")
    assert set(flags["geographic_level"]) == {"Local authority"}
    for row in flags.itertuples():
        assert row.direction == definitions.loc[row.indicator, "direction"]
        if row.flag == "none":
            assert row.assessment == "not flagged"
        else:
            better = (row.flag == "above") == (row.direction == "higher")
            assert row.assessment == ("better" if better else "worse")
            assert "flagged" in row.position
    plotted = flags[flags["position"] != "not plotted"]
    assert len(plotted) and plotted["outer_upper_percent"].notna().all()
    assert (plotted["inner_upper_percent"] <= plotted["outer_upper_percent"] + 1e-9).all()
    signals = pd.read_parquet(small_home / "exports" / "spc_signals.parquet")
    assert set(signals["signal"]) <= {"improvement", "concern", "common cause"} and len(signals)


def test_export_writes_the_datasets_where_asked(small_home, tmp_path):
    out = tmp_path / "open-data"
    result = subprocess.run([CLI, "export", "--home", str(small_home), "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out.resolve())
    assert read_csv(out / "indicator_rates.csv").equals(read_csv(small_home / "exports" / "indicator_rates.csv"))
    readme = (out / "README.txt").read_text(encoding="utf-8")
    assert "Police force area" in readme and "_status" in readme


def test_export_without_a_warehouse_is_a_plain_error(tmp_path):
    result = subprocess.run([CLI, "export", "--home", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no warehouse" in result.stderr
