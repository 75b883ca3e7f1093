"""Tests for the synthetic export pack generator (the synth package).

The packs are read back with a small independent reader and checker written here from the
contract, so the tests do not depend on the project's own ingest code: they check that the
generator writes what the contract allows, and that its fault manifest tells the truth.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
import yaml

from synth.faults import MANIFEST_NAME
from synth.packs import write_packs
from synth.population import national_case_counts
from synth.writers import ISO_DATE, UK_DATE, mixed_styles

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACT = yaml.safe_load((REPO_ROOT / "config" / "contract.yaml").read_text(encoding="utf-8"))
C3_FILE = REPO_ROOT / "config" / "reference" / "dfe" / (
    "c3_factors_identified_at_end_of_assessment_2018_to_2025.csv"
)
PACK_NAME = re.compile(r"^(?P<la>[EW]\d{8})_(?P<year>\d{4})Q(?P<quarter>[1-4])$")
TABLES = tuple(CONTRACT["tables"])
V1_TABLES = tuple(table for table in TABLES if not CONTRACT["tables"][table].get("optional"))
# Columns that came with the optional tables (they refer to one) and are left out with them.
V1_1_COLUMNS = {(table, column) for table in V1_TABLES for column, spec in CONTRACT["tables"][table]["columns"].items()
                if "references" in spec and spec["references"].split(".")[0] not in V1_TABLES}

ROW_RULES = {
    "required", "type_integer", "type_date", "type_yn", "range", "vocabulary", "max_length", "unique",
    "duplicate_link", "references", "outside_period", "referral_after_period", "return_interviews_exceed_missing",
    "attended_not_invited", "end_before_referral", "info_source_required",
}
FILE_RULES = {
    "missing_table", "missing_column", "empty_file", "unreadable", "unknown_la_code",
    "bad_period", "name_mismatch", "direct_identifier",
}


# --- an independent reader ----------------------------------------------------------------------


def read_table_file(path: Path) -> tuple[list[str], list[list[Any]]]:
    """Header and raw rows of one table file (CSV in any accepted encoding, Parquet or .xlsx)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = path.read_bytes()
        if raw.startswith(b"\xef\xbb\xbf"):
            text = raw[3:].decode("utf-8")
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252")
        first_line = text.split("\n", 1)[0]
        delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        return rows[0], rows[1:]
    if suffix == ".parquet":
        table = pq.read_table(path)
        return table.column_names, [list(row.values()) for row in table.to_pylist()]
    workbook = openpyxl.load_workbook(path, read_only=True)
    return read_sheet(workbook.worksheets[0])


def read_sheet(sheet) -> tuple[list[str], list[list[Any]]]:
    """A sheet's header and rows; rows are padded because trailing empty cells may be absent."""
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = [str(name) for name in rows[0]]
    return header, [row + [None] * (len(header) - len(row)) for row in rows[1:]]


def read_pack(path: Path) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Every table of a pack folder or workbook, by table name."""
    if path.is_file():
        workbook = openpyxl.load_workbook(path, read_only=True)
        return {sheet.title: read_sheet(sheet) for sheet in workbook.worksheets}
    tables = {}
    for file in sorted(path.iterdir()):
        tables[file.stem] = read_table_file(file)
    return tables


def pack_stem(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def quarter_bounds(stem: str) -> tuple[dt.date, dt.date]:
    match = PACK_NAME.match(stem)
    assert match, stem
    year, quarter = int(match["year"]), int(match["quarter"])
    start = dt.date(year, 3 * quarter - 2, 1)
    end = (dt.date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
           - dt.timedelta(days=1))
    return start, end


# --- an independent checker ---------------------------------------------------------------------


class Invalid(Exception):
    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


def vocabulary(spec: dict) -> list[str]:
    if "values_from" in spec:
        return [code for codes in CONTRACT[spec["values_from"]].values() for code in codes]
    return spec["values"]


def parse_value(spec: dict, raw: Any) -> Any:
    """A raw cell as its logical value, or Invalid(rule)."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        if spec.get("required"):
            raise Invalid("required")
        return None
    kind = spec["type"]
    if kind == "text":
        if len(str(raw).strip()) > spec.get("max_length", len(str(raw).strip())):
            raise Invalid("max_length")
        return str(raw)
    if kind == "integer":
        if isinstance(raw, bool):
            raise Invalid("type_integer")
        whole_float = isinstance(raw, float) and raw.is_integer()
        digits = isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw)
        if not (isinstance(raw, int) or whole_float or digits):
            raise Invalid("type_integer")
        value = int(raw)
        if value < spec.get("min", value) or value > spec.get("max", value):
            raise Invalid("range")
        return value
    if kind in ("code", "codelist"):
        known = {code.casefold(): code for code in vocabulary(spec)}
        items = str(raw).split(spec["separator"]) if kind == "codelist" else [str(raw)]
        codes = []
        for item in items:
            key = item.strip().casefold()
            if key not in known:
                raise Invalid("vocabulary")
            codes.append(known[key])
        return tuple(codes) if kind == "codelist" else codes[0]
    if kind == "yn":
        key = str(raw).strip().lower()
        if key in CONTRACT["values"]["yes_values"]:
            return True
        if key in CONTRACT["values"]["no_values"]:
            return False
        raise Invalid("type_yn")
    if kind == "date":
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        for date_format in CONTRACT["values"]["date_formats"]:
            try:
                return dt.datetime.strptime(str(raw).strip(), date_format).date()
            except ValueError:
                continue
        raise Invalid("type_date")
    raise AssertionError(f"unknown contract type {kind}")


def check_pack(stem: str, tables: dict) -> tuple[dict[str, list[dict]], set[tuple]]:
    """Parse and check one loadable pack against the contract.

    Returns the clean logical rows per table and the problems found as
    (table, row_number, column, rule), one per bad row, with the manifest's rule names.
    """
    start, end = quarter_bounds(stem)
    problems: set[tuple] = set()
    parsed: dict[str, list[tuple[int, dict]]] = {}
    with_contexts = "contexts" in tables
    # A v1.1 pack has every table and column; a v1 pack the three tables without context_id.
    assert set(tables) & set(TABLES) == set(TABLES if with_contexts else V1_TABLES), (stem, set(tables))
    for table in TABLES if with_contexts else V1_TABLES:
        specs = {column: spec for column, spec in CONTRACT["tables"][table]["columns"].items()
                 if with_contexts or (table, column) not in V1_1_COLUMNS}
        header, rows = tables[table]
        assert set(specs) <= set(header), (stem, table, set(specs) - set(header))
        assert with_contexts or "context_id" not in header, (stem, table)
        parsed[table] = []
        for number, raw_row in enumerate(rows, start=1):
            raw = dict(zip(header, raw_row, strict=True))
            row = {}
            try:
                for column, spec in specs.items():
                    try:
                        row[column] = parse_value(spec, raw[column])
                    except Invalid as error:
                        error.column = column
                        raise
            except Invalid as error:
                problems.add((table, number, error.column, error.rule))
                continue
            parsed[table].append((number, row))

    def flag(table, number, column, rule):
        problems.add((table, number, column, rule))

    # Cases: uniqueness and cross-column rules.
    case_ids = Counter(row["case_id"] for _, row in parsed["cases"])
    clean_cases = {}
    for number, row in parsed["cases"]:
        if case_ids[row["case_id"]] > 1:
            flag("cases", number, "case_id", "unique")
        elif row["referral_date"] > end:
            flag("cases", number, "referral_date", "referral_after_period")
        elif row["case_end_date"] is not None and row["case_end_date"] < row["referral_date"]:
            flag("cases", number, "case_end_date", "end_before_referral")
        elif (row["return_interviews_72h"] is not None
              and row["return_interviews_72h"] > (row["missing_episodes"] or 0)):
            flag("cases", number, "return_interviews_72h", "return_interviews_exceed_missing")
        else:
            clean_cases[row["case_id"]] = row
    all_case_ids = all_ids(tables, "cases", "case_id")

    # Contexts: uniqueness and their dates.
    clean: dict[str, list[dict]] = {table: [] for table in parsed}
    clean["cases"] = list(clean_cases.values())
    clean_contexts = {}
    context_ids = Counter(row["context_id"] for _, row in parsed.get("contexts", ()))
    for number, row in parsed.get("contexts", ()):
        if context_ids[row["context_id"]] > 1:
            flag("contexts", number, "context_id", "unique")
        elif row["identified_date"] > end:
            flag("contexts", number, "identified_date", "referral_after_period")
        elif row["closed_date"] is not None and row["closed_date"] < row["identified_date"]:
            flag("contexts", number, "closed_date", "end_before_referral")
        else:
            clean_contexts[row["context_id"]] = row
    clean["contexts"] = list(clean_contexts.values())
    all_context_ids = all_ids(tables, "contexts", "context_id") if with_contexts else set()

    def context_problem(row: dict) -> str | None:
        """A row naming a context that is not in the pack (or, never planted, a quarantined one)."""
        if row.get("context_id") is None or row["context_id"] in clean_contexts:
            return None
        return "context_quarantined" if row["context_id"] in all_context_ids else "references"

    pairs = Counter((row["case_id"], row["context_id"]) for _, row in parsed.get("case_contexts", ()))
    for number, row in parsed.get("case_contexts", ()):
        if pairs[(row["case_id"], row["context_id"])] > 1:
            flag("case_contexts", number, "context_id", "duplicate_link")
        elif row["case_id"] not in clean_cases:
            rule = "case_quarantined" if row["case_id"] in all_case_ids else "references"
            flag("case_contexts", number, "case_id", rule)
        elif context_problem(row):
            flag("case_contexts", number, "context_id", context_problem(row))
        else:
            clean["case_contexts"].append(row)

    for table, key, date_column in (("meetings", "meeting_id", "meeting_date"),
                                    ("actions", "action_id", "action_date")):
        keys = Counter(row[key] for _, row in parsed[table])
        for number, row in parsed[table]:
            if keys[row[key]] > 1:
                flag(table, number, key, "unique")
            elif row["case_id"] not in clean_cases:
                rule = "case_quarantined" if row["case_id"] in all_case_ids else "references"
                flag(table, number, "case_id", rule)
            elif context_problem(row):
                flag(table, number, "context_id", context_problem(row))
            elif not start <= row[date_column] <= end:
                flag(table, number, date_column, "outside_period")
            elif table == "meetings" and row["parent_attended"] and not row["parent_invited"]:
                flag(table, number, "parent_attended", "attended_not_invited")
            elif (table == "actions" and row["action_type"] == "intelligence_submission"
                  and row["info_source"] is None):
                flag(table, number, "info_source", "info_source_required")
            else:
                clean[table].append(row)
    return clean, problems


def all_ids(tables: dict, table: str, column: str) -> set[str]:
    """Every value of a column as written, whatever rule its row breaks."""
    header, rows = tables[table]
    return {str(dict(zip(header, row, strict=True))[column]) for row in rows}


def logical_packs(out_dir: Path) -> dict[str, dict[str, list[dict]]]:
    """Pack name (without extension) -> clean logical tables, for every pack in a folder."""
    result = {}
    for path in sorted(out_dir.iterdir()):
        if path.name == MANIFEST_NAME:
            continue
        clean, problems = check_pack(pack_stem(path), read_pack(path))
        assert not problems, (path.name, sorted(problems)[:5])
        result[pack_stem(path)] = clean
    return result


def c3_latest_totals() -> dict[str, int]:
    """Latest published C3 exploitation total per LA, worked out independently of synth."""
    columns = ("Going_missing", "Child_sexual_exploitation", "Child_criminal_exploitation",
               "Trafficking", "Gangs")
    best: dict[str, tuple[int, int]] = {}
    with C3_FILE.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["geographic_level"] != "Local authority":
                continue
            numbers = [int(row[c]) for c in columns if row[c].strip().isdigit()]
            if numbers and (row["new_la_code"] not in best
                            or int(row["time_period"]) > best[row["new_la_code"]][0]):
                best[row["new_la_code"]] = (int(row["time_period"]), sum(numbers))
    return {code: total for code, (_, total) in best.items()}


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_and_csv(tmp_path_factory) -> tuple[Path, Path]:
    """The same seed written in both modes: 3 LAs x 4 quarters = 12 packs, more than the
    number of mixed styles, so every style is present."""
    base = tmp_path_factory.mktemp("modes")
    write_packs(base / "mixed", las=3, quarters=4, seed=11, cases_per_la=15, formats="mixed")
    write_packs(base / "csv", las=3, quarters=4, seed=11, cases_per_la=15, formats="csv")
    return base / "mixed", base / "csv"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faulty")
    write_packs(out, las=3, quarters=4, seed=5, cases_per_la=12, faults=True)
    return out


# --- tests ---------------------------------------------------------------------------------------


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    runs = []
    for name in ("first", "second"):
        write_packs(tmp_path / name, las=3, quarters=4, seed=3, cases_per_la=6, faults=True)
        runs.append(file_bytes(tmp_path / name))
    assert runs[0] == runs[1]
    assert any(Path(name).name in ("contexts.csv", "case_contexts.csv") for name in runs[0])
    suffixes = {Path(name).suffix for name in runs[0]}
    assert {".csv", ".parquet", ".xlsx", ".json"} <= suffixes
    write_packs(tmp_path / "other", las=3, quarters=4, seed=4, cases_per_la=6, faults=True)
    assert file_bytes(tmp_path / "other") != runs[0]


def test_mixed_formats_carry_the_same_logical_data_as_csv(mixed_and_csv):
    mixed, plain = mixed_and_csv
    mixed_data, csv_data = logical_packs(mixed), logical_packs(plain)
    assert len(csv_data) == 12
    assert mixed_data == csv_data

    # csv mode: folders of UTF-8 comma CSVs only.
    assert all(p.is_dir() for p in plain.iterdir())
    assert {p.suffix for p in plain.rglob("*") if p.is_file()} == {".csv"}
    assert not any(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in plain.rglob("*.csv"))

    # mixed mode: every accepted form is present, and most packs are CSV folders.
    files = [p for p in mixed.rglob("*") if p.is_file()]
    csv_files = [p for p in files if p.suffix == ".csv"]
    csv_folders = [p for p in mixed.iterdir()
                   if p.is_dir() and {f.suffix for f in p.iterdir()} == {".csv"}]
    assert len(csv_folders) > len(list(mixed.iterdir())) / 2
    assert any(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in csv_files)
    assert any(p.read_bytes().split(b"\n", 1)[0].count(b";") > 3 for p in csv_files)
    assert any(p.suffix == ".parquet" for p in files)
    workbooks = [p for p in mixed.iterdir() if p.suffix == ".xlsx"]
    assert workbooks
    cell_kinds = set()
    for workbook in workbooks:
        sheet = openpyxl.load_workbook(workbook, read_only=True)["meetings"]
        cell_kinds.add(type(next(sheet.iter_rows(min_row=2, values_only=True))[2]))
    assert cell_kinds == {dt.datetime, str}  # real date cells in some, DD/MM/YYYY text in others
    text = "".join(p.read_bytes().decode("utf-8-sig", errors="replace") for p in csv_files)
    assert re.search(r"\d\d/\d\d/20\d\d", text)
    assert re.search(r"[,;](?:yes|Yes|YES|no|No|NO|true|TRUE|1|0)[,;\r\n]", text)
    assert re.search(r"[,;] +[A-Za-z_]+ *[,;]", text)  # codes with surrounding spaces


def test_values_respect_the_contract_and_look_realistic(mixed_and_csv):
    _, plain = mixed_and_csv
    packs = logical_packs(plain)  # asserts no contract problems at all
    cases = [row for pack in packs.values() for row in pack["cases"]]
    meetings = [row for pack in packs.values() for row in pack["meetings"]]
    actions = [row for pack in packs.values() for row in pack["actions"]]

    for stem, pack in packs.items():
        assert len(pack["cases"]) == 15  # exactly cases_per_la
        for table, prefix in (("cases", "C"), ("meetings", "M"), ("actions", "A"), ("contexts", "X")):
            key = CONTRACT["tables"][table]["key"]
            assert all(re.fullmatch(prefix + r"\d+", row[key]) for row in pack.get(table, ())), stem
        per_case = Counter(row["case_id"] for row in pack["meetings"])
        assert max(per_case.values(), default=0) <= 8
        per_case = Counter(row["case_id"] for row in pack["actions"])
        assert max(per_case.values(), default=0) <= 12

    assert sum(10 <= row["age"] <= 17 for row in cases) > 0.8 * len(cases)
    assert any(row["parent_partnership_exception"] for row in cases)
    assert any(not row["lives_with_parent"] for row in cases)
    assert any(row["intrafamilial_harm"] for row in cases)
    assert any(len(row["harm_types"]) > 1 for row in cases)
    assert any(row["case_end_date"] for row in cases)
    assert any(row["referral_date"] < dt.date(2024, 1, 1) for row in cases)
    assert {row["meeting_type"] for row in meetings} >= {"strategy", "core_group", "mace",
                                                        "context_conference"}
    target_of = {t: target for target, types in CONTRACT["action_targets"].items() for t in types}
    assert {target_of[row["action_type"]] for row in actions} == set(CONTRACT["action_targets"])
    for row in actions:
        assert (row["info_source"] is not None) == (row["action_type"] == "intelligence_submission")
    assert {row["info_source"] for row in actions} >= {"parent", "professional"}

    # Practice differs by LA: the share of planning meetings with a parent invited varies.
    invited = defaultdict(list)
    for stem, pack in packs.items():
        for row in pack["meetings"]:
            if row["meeting_type"] != "strategy":
                invited[stem[:9]].append(row["parent_invited"])
    rates = [sum(flags) / len(flags) for flags in invited.values()]
    assert max(rates) - min(rates) > 0.05


def test_encoding_constants_are_ones_the_contract_accepts():
    values = CONTRACT["values"]
    assert {ISO_DATE, UK_DATE} <= set(values["date_formats"])
    for style in mixed_styles():
        assert style.delimiter in values["delimiters"]
        assert style.encoding in set(values["encodings"]) | {"utf-8"}
        yes, no = (token.lower() for token in style.yes_no)
        assert yes in values["yes_values"] and no in values["no_values"]


def test_every_planted_fault_is_in_the_manifest_and_nothing_else_is_wrong(faulty):
    manifest = json.loads((faulty / MANIFEST_NAME).read_text(encoding="utf-8"))
    faults = manifest["faults"]
    assert {f["rule"] for f in faults if f["outcome"] == "quarantine"} == ROW_RULES
    assert {f["rule"] for f in faults if f["outcome"] == "reject"} == FILE_RULES
    assert sum(f["rule"] == "direct_identifier" for f in faults) == 3
    # Both rows of each duplicate, for every column that must be unique, and of the repeated link.
    for rule, key in (("unique", "unique"), ("duplicate_link", "unique_with")):
        duplicates = Counter((f["table"], f["column"]) for f in faults if f["rule"] == rule)
        assert duplicates == {(table, column): 2 for table, spec in CONTRACT["tables"].items()
                              for column, column_spec in spec["columns"].items() if column_spec.get(key)}
    for fault in faults:
        assert set(fault) == {"pack", "outcome", "table", "row_number", "column", "rule", "note"}
        assert (faulty / fault["pack"]).exists()

    rejected = {f["pack"] for f in faults if f["outcome"] == "reject"}
    expected = defaultdict(set)
    for fault in faults:
        if fault["outcome"] == "quarantine":
            expected[fault["pack"]].add((fault["table"], fault["row_number"], fault["column"],
                                         fault["rule"]))
    # Reading every loadable pack back finds exactly the manifest's rows, and the row counts hold.
    for path in sorted(faulty.iterdir()):
        if path.name in rejected or path.name == MANIFEST_NAME:
            continue
        tables = read_pack(path)
        clean, problems = check_pack(pack_stem(path), tables)
        assert problems == expected.get(path.name, set()), path.name
        assert set(manifest["rows"][path.name]) == set(tables)
        for table in tables:
            assert manifest["rows"][path.name][table] == len(tables[table][1])
            assert manifest["clean_rows"][path.name][table] == len(clean[table])
        check_faults_have_cases_of_their_own(tables, expected.get(path.name, set()))
    assert len([name for name, found in expected.items() if found]) > 1  # spread over packs
    assert not any(f["rule"] == "case_quarantined" for f in faults)  # case faults have no children
    assert {f["table"] for f in faults if f["outcome"] == "quarantine"} == set(TABLES)

    # One fault per row.
    rows_seen = Counter((f["pack"], f["table"], f["row_number"]) for f in faults if f["row_number"])
    assert max(rows_seen.values()) == 1


def check_faults_have_cases_of_their_own(tables: dict, faults: set[tuple]) -> None:
    """Planted faulty cases have no meetings or actions, and each meeting or action fault sits on
    its own case (the two rows of a duplicate ID share one), a case with no other fault. A blank
    case_id names no case, and a meeting or action whose fault is its case_id has no carrier."""
    def case_id_at(table: str, number: int) -> str:
        header, rows = tables[table]
        value = dict(zip(header, rows[number - 1], strict=True))["case_id"]
        return "" if value is None else str(value).strip()

    def values_at(table: str, column: str, numbers: set[int]) -> set[str]:
        header, rows = tables.get(table, ([column], []))
        values = {dict(zip(header, rows[n - 1], strict=True))[column] for n in numbers}
        return {str(value).strip() for value in values if value is not None} - {""}

    faulty_cases = {case_id_at("cases", n) for table, n, _c, _r in faults if table == "cases"} - {""}
    faulty_contexts = values_at("contexts", "context_id", {n for table, n, _c, _r in faults if table == "contexts"})
    for table in ("meetings", "actions", "case_contexts"):
        if table not in tables:
            continue
        header, rows = tables[table]
        used = {str(dict(zip(header, row, strict=True))["case_id"]) for row in rows}
        assert not faulty_cases & used
        named = {str(dict(zip(header, row, strict=True)).get("context_id")) for row in rows}
        assert not faulty_contexts & named  # no row refers to a planted bad context
    carriers = Counter()
    for table, number, column, rule in faults:
        if table not in ("cases", "contexts") and column != "case_id":
            carriers[case_id_at(table, number)] += 1 if rule not in ("unique", "duplicate_link") else 0.5
    assert all(count == 1 for count in carriers.values())


def test_every_rule_on_every_contract_column_is_planted(faulty):
    from assets.contract_rules import contract_rules

    manifest = json.loads((faulty / MANIFEST_NAME).read_text(encoding="utf-8"))
    planted = Counter((f["table"], f["column"], f["rule"]) for f in manifest["faults"]
                      if f["outcome"] == "quarantine")
    # A reference column's length cannot be broken alone: a longer value is no reference either.
    alone = {(rule.table, rule.column, rule.rule) for rule in contract_rules()
             if not (rule.rule == "max_length" and "references" in rule.spec)}
    assert set(planted) == alone
    assert {(t, c) for t, c, r in {(r.table, r.column, r.rule) for r in contract_rules()} - alone} == {
        ("meetings", "context_id"), ("actions", "context_id")}
    assert {count for (_t, _c, rule), count in planted.items() if rule not in ("unique", "duplicate_link")} == {1}
    notes = [f["note"] for f in manifest["faults"] if f["outcome"] == "quarantine"]
    assert all(" broken (" in note for note in notes)
    assert not any(bad in note for note in notes for bad in ("abc", "31/13/", "not_a_code", "no-such"))


def test_a_kind_whose_plant_operation_is_unknown_is_named(tmp_path, monkeypatch):
    from assets import contract_rules
    from synth.faults import PlantError

    kind = contract_rules.parse_kind("scrambled", {
        "when": {"has": ["required"]}, "condition": "false", "message": "{column} is scrambled.",
        "fix": "Unscramble {column}.", "plant": {"operation": "scramble"}})
    monkeypatch.setattr(contract_rules, "rule_kinds", lambda: (kind,))
    with pytest.raises(PlantError, match="kind scrambled: no plant operation 'scramble'"):
        write_packs(tmp_path, las=1, quarters=1, seed=1, cases_per_la=3, faults=True, formats="csv")


def test_rejected_packs_carry_their_fault_and_do_not_collide(faulty):
    manifest = json.loads((faulty / MANIFEST_NAME).read_text(encoding="utf-8"))
    rejects = [f for f in manifest["faults"] if f["outcome"] == "reject"]
    names = [f["pack"] for f in rejects]
    assert len(names) == len(set(names)) == 10
    clean = {pack_stem(p) for p in faulty.iterdir() if p.name not in names
             and p.name != MANIFEST_NAME}
    assert not {Path(name).stem for name in names} & clean
    la_codes = {row["la_code"] for row in csv.DictReader(
        (REPO_ROOT / "config" / "la_codes.csv").open(encoding="utf-8", newline=""))}

    for fault in rejects:
        path = faulty / fault["pack"]
        rule = fault["rule"]
        assert manifest["clean_rows"][fault["pack"]] == {
            table: 0 for table in manifest["rows"][fault["pack"]]}
        if rule == "unreadable":
            assert path.suffix == ".xlsx" and not zipfile.is_zipfile(path)
            continue
        la_code, period = path.name.split("_")
        files = {p.stem: p for p in path.iterdir()}
        if rule == "missing_table":
            assert set(files) == {"cases", "meetings"}
        elif rule == "empty_file":
            assert files["meetings"].stat().st_size == 0
            continue
        tables = read_pack(path)
        header = tables["cases"][0]
        if rule == "missing_column":
            assert "sex" not in header
            continue
        if rule == "unknown_la_code":
            assert la_code == "E99999999" and la_code not in la_codes
        elif rule == "bad_period":
            assert period == "2025Q5" and la_code in la_codes
        elif rule == "name_mismatch":
            values = {dict(zip(header, row, strict=True))["la_code"] for row in tables["cases"][1]}
            assert values and la_code not in values
        elif rule == "direct_identifier":
            column = fault["column"]
            header, rows = tables[fault["table"]]
            values = [dict(zip(header, row, strict=True))[column] for row in rows]
            pattern = {"child_name": r"[A-Z][a-z]+ [A-Z][a-z]+", "contact": r"[\w.]+@[\w.]+",
                       "location": r"\d+ [A-Z][a-z]+ [A-Z][a-z]+"}[column]
            assert len(values) >= 3 and all(re.fullmatch(pattern, value) for value in values)
        if PACK_NAME.match(path.name) and rule != "missing_table":
            # Apart from the planted fault, the content is a valid pack.
            _clean, problems = check_pack(path.name, tables)
            assert not problems


def test_case_volumes_follow_c3():
    totals = c3_latest_totals()
    counts = national_case_counts(1.0)
    assert len(counts) == 153
    assert abs(sum(counts.values()) - 25_000) < 0.03 * 25_000
    assert min(counts.values()) >= 5
    grand = sum(totals[code] for code in counts)
    for code in counts:
        assert counts[code] == max(5, round(totals[code] / grand * 25_000))
    assert national_case_counts(0.5)[max(counts, key=counts.get)] == pytest.approx(
        max(counts.values()) / 2, abs=1)


def test_packs_are_sized_from_c3_without_cases_per_la(tmp_path):
    written = write_packs(tmp_path, las=2, quarters=1, seed=2, formats="csv")
    counts = national_case_counts(1.0)
    totals = c3_latest_totals()
    sizes = {}
    for path in written:
        _header, rows = read_table_file(path / "cases.csv")
        sizes[path.name[:9]] = len(rows)
    assert sizes == {code: counts[code] for code in sizes}
    first, second = sorted(sizes)
    ratio = sizes[first] / sizes[second]
    assert ratio == pytest.approx(totals[first] / totals[second], rel=1 / min(sizes.values()))


def test_names_periods_and_progress(tmp_path):
    lines = []
    written = write_packs(tmp_path, las=2, quarters=4, seed=9, cases_per_la=5, formats="csv",
                          progress=lines.append)
    assert len(lines) == len(written) == 8
    stems = sorted(pack_stem(p) for p in written)
    periods = sorted({stem.split("_")[1] for stem in stems})
    assert periods == ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    assert all(PACK_NAME.match(stem) for stem in stems)
    assert not (tmp_path / MANIFEST_NAME).exists()
    # A second, different run into the same folder leaves no stale files behind.
    write_packs(tmp_path, las=2, quarters=4, seed=9, cases_per_la=5, formats="mixed")
    for path in tmp_path.iterdir():
        if path.is_dir():
            assert sorted(p.stem for p in path.iterdir()) in (sorted(TABLES), sorted(V1_TABLES))
    with pytest.raises(ValueError):
        write_packs(tmp_path, formats="tsv")


# --- contexts (contract v1.1) ---------------------------------------------------------------------

# What the meetings and actions about a context are (the rest leave context_id blank).
MEETINGS_ABOUT_CONTEXTS = {"mace", "context_conference"}
ASSESSMENTS = {"location_assessment", "peer_group_assessment", "school_assessment", "online_context_assessment"}
OFFENDER_ACTIONS_AT_PLACES = {"closure_order", "cawn_issued", "hotel_information_request", "offender_disruption_other"}
ACTIONS_ABOUT_CONTEXTS = set(CONTRACT["action_targets"]["context"]) | OFFENDER_ACTIONS_AT_PLACES


@pytest.fixture(scope="module")
def with_contexts(tmp_path_factory) -> tuple[Path, Path]:
    """Every pack recording contexts, in every form (12 packs, more than there are styles) and as
    plain CSV, from the same seed."""
    base = tmp_path_factory.mktemp("contexts")
    write_packs(base / "mixed", las=3, quarters=4, seed=21, cases_per_la=40, formats="mixed", contexts="all")
    write_packs(base / "csv", las=3, quarters=4, seed=21, cases_per_la=40, formats="csv", contexts="all")
    return base / "mixed", base / "csv"


def test_contexts_are_written_in_every_form_with_the_same_data(with_contexts):
    mixed, plain = with_contexts
    forms = set()
    for path in mixed.iterdir():
        if path.is_file():
            sheets = openpyxl.load_workbook(path, read_only=True).sheetnames
            assert sheets == list(TABLES)
            forms.add("workbook sheet")
        else:
            assert sorted(p.stem for p in path.iterdir()) == sorted(TABLES)
            forms |= {p.suffix for p in path.iterdir() if p.stem in ("contexts", "case_contexts")}
    assert forms == {".csv", ".parquet", ".xlsx", "workbook sheet"}
    for path in mixed.iterdir():
        for table in ("contexts", "case_contexts"):
            assert read_pack(path)[table][0] == list(CONTRACT["tables"][table]["columns"])  # nothing else
    mixed_data, csv_data = logical_packs(mixed), logical_packs(plain)  # asserts no contract problems
    assert mixed_data == csv_data
    assert all(pack["contexts"] and pack["case_contexts"] for pack in csv_data.values())


def test_contexts_are_shared_by_cases_and_named_by_the_work_about_them(with_contexts):
    _, plain = with_contexts
    packs = logical_packs(plain)
    cases_of, contexts_of = Counter(), Counter()
    for stem, pack in packs.items():
        cases_of.update((stem, row["context_id"]) for row in pack["case_contexts"])
        contexts_of.update((stem, row["case_id"]) for row in pack["case_contexts"])
    contexts = [(stem, row) for stem, pack in packs.items() for row in pack["contexts"]]
    cases = [(stem, row) for stem, pack in packs.items() for row in pack["cases"]]
    assert max(cases_of.values()) >= 3  # shared places and peer groups
    assert sum(count >= 2 for count in cases_of.values()) > len(cases_of) / 3
    assert any(count == 1 for count in cases_of.values())
    assert any((stem, row["context_id"]) not in cases_of for stem, row in contexts)  # no case in the pack
    assert any(count >= 2 for count in contexts_of.values())  # a case in several contexts
    assert 0.1 < sum((stem, row["case_id"]) not in contexts_of for stem, row in cases) / len(cases) < 0.5
    assert len({row["context_type"] for _, row in contexts}) >= 4
    for column in ("risk_level_start", "risk_level_end", "closed_date"):
        assert 0 < sum(row[column] is not None for _, row in contexts) < len(contexts), column
    links = {(stem, row["case_id"], row["context_id"]) for stem, pack in packs.items() for row in pack["case_contexts"]}
    assert {row["link_type"] for stem, pack in packs.items() for row in pack["case_contexts"]} >= {
        "harmed_at", "peer_group_member", None}

    assessed = set()
    named = defaultdict(set)  # what names a context: meeting and action types
    for stem, pack in packs.items():
        for table, kind in (("meetings", "meeting_type"), ("actions", "action_type")):
            for row in pack[table]:
                if row["context_id"] is None:
                    continue
                # The context is one of the case's own, and the row is about contexts.
                assert (stem, row["case_id"], row["context_id"]) in links
                named[table].add(row[kind])
                if row[kind] in ASSESSMENTS:
                    assessed.add((stem, row["context_id"]))
        assert any(row["context_id"] is None for row in pack["actions"] if row["action_type"] in ASSESSMENTS)
    assert named["meetings"] == MEETINGS_ABOUT_CONTEXTS
    assert named["actions"] <= ACTIONS_ABOUT_CONTEXTS
    assert named["actions"] & ASSESSMENTS and named["actions"] & OFFENDER_ACTIONS_AT_PLACES
    assert named["actions"] & (set(CONTRACT["action_targets"]["context"]) - ASSESSMENTS)  # interventions
    assert assessed and any((stem, row["context_id"]) not in assessed for stem, row in contexts)


def test_networks_are_mostly_small_with_a_few_large():
    from synth.cases import generate_la_packs
    from synth.population import audit_quarters

    quarters = audit_quarters(4)
    packs = generate_la_packs("E08000025", quarters, 400, 7, contexts_from=quarters[0])
    sizes: Counter = Counter()
    for pack in packs:
        sizes.update((pack.name, row["context_id"]) for row in pack.tables["case_contexts"])
    linked = sum(sizes.values())
    assert sum(size for size in sizes.values() if 2 <= size <= 5) > linked / 2  # most in groups of 2-5
    assert 0 < sum(size for size in sizes.values() if size >= 6) < linked / 3
    assert max(sizes.values()) <= 15
    assert sum(size == 1 for size in sizes.values()) > 0
    # Contexts persist from quarter to quarter, as cases do.
    ids = [{row["context_id"] for row in pack.tables["contexts"]} for pack in packs]
    assert all(len(earlier & later) > len(later) / 3 for earlier, later in zip(ids, ids[1:], strict=False))


def test_the_same_seed_draws_the_same_cases_meetings_and_actions_with_or_without_contexts(tmp_path):
    for contexts in ("all", "none", "mixed"):
        write_packs(tmp_path / contexts, las=2, quarters=3, seed=8, cases_per_la=20, formats="csv", contexts=contexts)
    recorded, v1, mixed = (logical_packs(tmp_path / contexts) for contexts in ("all", "none", "mixed"))
    for packs in (recorded, v1, mixed):
        for pack in packs.values():
            for table in ("meetings", "actions"):
                for row in pack[table]:
                    row.pop("context_id", None)
            pack.pop("contexts", None)
            pack.pop("case_contexts", None)
    assert recorded == v1 == mixed


def test_v1_packs_have_no_contexts_in_any_form(tmp_path):
    write_packs(tmp_path, las=3, quarters=4, seed=11, cases_per_la=5, formats="mixed", contexts="none")
    for path in tmp_path.iterdir():
        tables = read_pack(path)
        assert set(tables) == set(V1_TABLES), path.name
        assert not any("context_id" in header for header, _rows in tables.values()), path.name
    with pytest.raises(ValueError):
        write_packs(tmp_path, contexts="some")


def test_by_default_some_las_record_contexts_and_some_start_later(tmp_path):
    from synth.contexts import CONTEXT_RECORDING_FROM, recording_start
    from synth.population import audit_quarters, english_codes

    # The demo's LAs and quarters (seed 1): v1 and v1.1 packs both.
    lines = []
    write_packs(tmp_path, las=4, quarters=4, seed=1, cases_per_la=3, formats="csv", progress=lines.append)
    kinds = {"contexts.csv" in {p.name for p in path.iterdir()} for path in tmp_path.iterdir()}
    assert kinds == {True, False}
    assert any("(contract v1: no contexts)" in line for line in lines)
    assert any(re.search(r"\d+ contexts, \d+ links$", line) for line in lines)

    quarters = audit_quarters(8)
    starts = Counter(recording_start(code, quarters, seed=1) for code in english_codes())
    never = starts.pop(None, 0) / 153
    assert never == pytest.approx(CONTEXT_RECORDING_FROM["never"], abs=0.1)
    assert starts[quarters[0]] / 153 == pytest.approx(CONTEXT_RECORDING_FROM["always"], abs=0.12)
    assert {quarter.label for quarter in starts} >= {"2025Q2", "2025Q3", "2025Q4"}
