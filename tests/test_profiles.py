"""Mapping profiles: the example profiles map their example packs onto the contract, list columns
and dates are rewritten, a bad profile is refused naming the file and key, and profiles are chosen
by LA code."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from assets.config import CONFIG_DIR
from assets.ingest import prepare_pack, standardise
from assets.profiles import (
    ProfileError,
    apply_profile,
    load_profile,
    profiles_for,
    table_file_names,
)
from assets.reading import TABLES, PackRejected, RawTable, open_pack, read_tables

FIXTURES = Path(__file__).parent / "fixtures" / "profile_packs"
EXAMPLE_PROFILES = ("example-caseworks", "example-mosaic-style")


def contract_yaml() -> dict:
    """The contract read straight from its file, so the checks here do not lean on the code under test."""
    return yaml.safe_load((CONFIG_DIR / "contract.yaml").read_text(encoding="utf-8"))


def vocabulary(document: dict, spec: dict) -> set[str]:
    if "values_from" in spec:
        return {code.lower() for codes in document[spec["values_from"]].values() for code in codes}
    return {str(code).lower() for code in spec["values"]}


def write_profile(folder: Path, text: str, name: str = "profile.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def table(name: str, **columns: list[str]) -> RawTable:
    return RawTable(name, f"{name}.csv", pd.DataFrame(columns, dtype=str))


def mapped_example(profile_name: str) -> dict[str, RawTable]:
    profile = load_profile(CONFIG_DIR / "profiles" / f"{profile_name}.yaml")
    pack = open_pack(FIXTURES / profile_name / "E08000025_2025Q2")
    return apply_profile(read_tables(pack, table_file_names(profile)), profile)


def loaded_example(pack_path: Path, profile_name: str):
    """A pack in a profile's layout read (with the profile's file names), mapped and standardised."""
    profile = load_profile(CONFIG_DIR / "profiles" / f"{profile_name}.yaml")
    pack = open_pack(pack_path)
    read_tables(pack, table_file_names(profile))
    pack.tables = apply_profile(pack.tables, profile)
    return pack, standardise(pack, b"test-key")


# What each example pack holds about contexts: contexts, links, and the meetings and actions that
# name a context.
EXAMPLE_CONTEXTS = {
    "example-caseworks": {"contexts": 4, "case_contexts": 6, "meetings": 3, "actions": 3},
    "example-mosaic-style": {"contexts": 4, "case_contexts": 6, "meetings": 2, "actions": 4},
}


# --- the example profiles and packs ---------------------------------------------------------------

@pytest.mark.parametrize("profile_name", EXAMPLE_PROFILES)
def test_example_profile_covers_every_contract_column_and_applies_to_no_la(profile_name):
    profile = load_profile(CONFIG_DIR / "profiles" / f"{profile_name}.yaml")
    assert profile.name == profile_name
    assert profile.la_codes == ()
    for table_name, spec in contract_yaml()["tables"].items():
        assert sorted(profile.renames[table_name].values()) == sorted(spec["columns"])


@pytest.mark.parametrize("profile_name", EXAMPLE_PROFILES)
def test_example_pack_maps_to_contract_columns_and_vocabularies(profile_name):
    document = contract_yaml()
    yes_no = {v.lower() for v in document["values"]["yes_values"] + document["values"]["no_values"]}
    mapped = mapped_example(profile_name)
    for table_name, table_spec in document["tables"].items():
        frame = mapped[table_name].frame
        assert sorted(frame.columns) == sorted(table_spec["columns"]), table_name
        assert len(frame) >= 3
        for column, spec in table_spec["columns"].items():
            values = [v.strip() for v in frame[column] if v.strip()]
            where = f"{table_name}.{column}"
            if spec.get("required"):
                assert len(values) == len(frame), f"{where} has blanks"
            if spec["type"] == "code":
                assert {v.lower() for v in values} <= vocabulary(document, spec), where
            elif spec["type"] == "codelist":
                elements = {e.strip().lower() for v in values for e in v.split(spec["separator"])}
                assert elements <= vocabulary(document, spec), where
            elif spec["type"] == "yn":
                assert {v.lower() for v in values} <= yes_no, where
            elif spec["type"] == "date":
                assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) for v in values), where
                assert all(dt.date.fromisoformat(v) for v in values)
            elif spec["type"] == "integer":
                assert all(v.isdigit() for v in values), where


@pytest.mark.parametrize("profile_name", EXAMPLE_PROFILES)
def test_example_pack_loads_without_quarantine_after_mapping(profile_name):
    pack, result = loaded_example(FIXTURES / profile_name / "E08000025_2025Q2", profile_name)
    assert result.total_quarantined == 0, result.quarantine[["table_name", "column_name", "rule"]]
    assert result.rows_loaded == {t: len(pack.tables[t].frame) for t in TABLES}
    assert result.dropped_columns == {}
    assert pack.absent_tables == set()


@pytest.mark.parametrize("profile_name", EXAMPLE_PROFILES)
def test_example_pack_contexts_and_links_load_after_mapping(profile_name):
    expected = EXAMPLE_CONTEXTS[profile_name]
    _, result = loaded_example(FIXTURES / profile_name / "E08000025_2025Q2", profile_name)
    assert result.total_quarantined == 0, result.quarantine[["table_name", "column_name", "rule"]]
    assert (result.rows_loaded["contexts"], result.rows_loaded["case_contexts"]) == (
        expected["contexts"], expected["case_contexts"])
    assert sorted(result.contexts["context_type"]) == ["location", "online", "peer_group", "school"]
    context_keys = set(result.contexts["context_key"])
    links = result.case_contexts
    assert set(links["context_key"]) <= context_keys
    assert set(links["case_key"]) <= set(result.cases["case_key"])
    assert links.groupby("context_key")["case_key"].nunique().max() >= 2  # a context shared by two cases
    for table_name in ("meetings", "actions"):
        keys = getattr(result, table_name)["context_key"]
        assert keys.notna().sum() == expected[table_name], table_name
        assert keys.isna().any(), f"{table_name}: some rows name no context"
        assert set(keys.dropna()) <= context_keys


@pytest.mark.parametrize("profile_name", EXAMPLE_PROFILES)
def test_example_pack_contexts_load_through_ingest_with_the_profile_named(profile_name):
    """The pipeline's own route: the profile's file names find the context files, and the profile maps them."""
    result = prepare_pack(open_pack(FIXTURES / profile_name / "E08000025_2025Q2"), b"test-key",
                          profile=CONFIG_DIR / "profiles" / f"{profile_name}.yaml")
    assert result.total_quarantined == 0
    expected = EXAMPLE_CONTEXTS[profile_name]
    assert (result.rows_loaded["contexts"], result.rows_loaded["case_contexts"]) == (
        expected["contexts"], expected["case_contexts"])


@pytest.mark.parametrize("profile_name", EXAMPLE_PROFILES)
def test_a_v1_pack_without_context_files_still_loads_with_the_v1_1_profile(profile_name, tmp_path):
    """A pack exported before contract v1.1 (no context files, no context column on meetings or
    actions) is mapped by the same profile and loads, with no contexts."""
    profile = load_profile(CONFIG_DIR / "profiles" / f"{profile_name}.yaml")
    folder = shutil.copytree(FIXTURES / profile_name / "E08000025_2025Q2", tmp_path / "E08000025_2025Q2")
    table_of_file = {name.lower(): table for table, name in table_file_names(profile).items()}
    for path in folder.iterdir():
        table_name = table_of_file[path.stem.lower()]
        if table_name in ("contexts", "case_contexts"):
            path.unlink()
        elif table_name in ("meetings", "actions"):
            context_column = {la for la, column in profile.renames[table_name].items() if column == "context_id"}
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame = frame.drop(columns=[c for c in frame.columns if c.strip().lower() in context_column])
            frame.to_csv(path, index=False)
    assert sorted(table_of_file[p.stem.lower()] for p in folder.iterdir()) == ["actions", "cases", "meetings"]
    pack, result = loaded_example(folder, profile_name)
    assert pack.absent_tables == {"contexts", "case_contexts"}
    assert "context_id" not in pack.tables["meetings"].columns and "context_id" not in pack.tables["actions"].columns
    assert result.total_quarantined == 0, result.quarantine[["table_name", "column_name", "rule"]]
    assert result.rows_loaded == {"cases": 4, "meetings": 6, "actions": 7, "contexts": 0, "case_contexts": 0}
    assert result.meetings["context_key"].isna().all()
    assert result.actions["context_key"].isna().all()


def test_example_pack_is_not_a_contract_pack_without_its_profile():
    """The fixtures really are in another layout: read as they are, required columns are missing."""
    pack = open_pack(FIXTURES / "example-caseworks" / "E08000025_2025Q2")
    read_tables(pack)
    with pytest.raises(PackRejected) as rejected:
        standardise(pack, b"test-key")
    assert rejected.value.rule == "missing_column"


# --- what apply_profile does ---------------------------------------------------------------------

LIST_PROFILE = """
profile: lists
values:
  cases:
    harm_types: {Sexual: CSE, Criminal: CCE, County lines: county_lines, Both: "CCE;county_lines", Unclear: ""}
list_separators: {cases: {harm_types: "|"}}
"""


def test_list_columns_are_split_recoded_and_joined_with_the_contract_separator(tmp_path):
    profile = load_profile(write_profile(tmp_path, LIST_PROFILE))
    raw = table("cases", harm_types=["Sexual|Criminal", " sexual ", "CRIMINAL | County Lines |", "", "|",
                                     "Sexual|Grooming", "Both|Sexual", "Unclear|Criminal", "online"])
    mapped = apply_profile({"cases": raw}, profile)["cases"].frame["harm_types"].tolist()
    assert mapped == ["CSE;CCE", "CSE", "CCE;county_lines", "", "",
                      "CSE;Grooming",  # an unlisted entry is passed on for the contract to quarantine
                      "CCE;county_lines;CSE", "CCE", "online"]


def test_a_list_column_without_an_la_separator_is_split_on_the_contract_separator(tmp_path):
    profile = load_profile(write_profile(tmp_path, "profile: p\nvalues: {cases: {harm_types: {Sexual: CSE}}}\n"))
    raw = table("cases", harm_types=["Sexual;missing", "Sexual|missing"])
    assert apply_profile({"cases": raw}, profile)["cases"].frame["harm_types"].tolist() == [
        "CSE;missing", "Sexual|missing"]


def test_dates_in_the_profile_formats_become_iso_and_others_are_left_alone(tmp_path):
    profile = load_profile(write_profile(tmp_path, 'profile: p\ndate_formats: ["%d.%m.%Y", "%Y%m%d"]\n'))
    raw = table("meetings",
                meeting_date=["01.07.2025", " 1.7.2025 ", "20250915", "2025-07-01", "15/07/2025", "31.02.2025",
                              "not a date", ""],
                meeting_type=["01.07.2025"] * 8)  # not a date column: untouched
    frame = apply_profile({"meetings": raw}, profile)["meetings"].frame
    assert frame["meeting_date"].tolist() == ["2025-07-01", "2025-07-01", "2025-09-15", "2025-07-01",
                                              "15/07/2025", "31.02.2025", "not a date", ""]
    assert frame["meeting_type"].tolist() == ["01.07.2025"] * 8


def test_columns_are_dropped_renamed_and_recoded_ignoring_case_and_input_is_unchanged(tmp_path):
    profile = load_profile(write_profile(tmp_path, """
profile: p
columns: {cases: {" CHILD REF ": case_id, Gender: SEX}}
values: {cases: {sex: {female: F, " Male ": M}}}
drop_columns: {cases: [worker]}
"""))
    raw = table("cases", **{"child ref": ["A1", "A2", "A3"], "gender": ["Female", " MALE", "Other"],
                            "worker": ["W1", "W2", "W3"], "age": ["14", "15", "16"]})
    mapped = apply_profile({"cases": raw}, profile)["cases"]
    assert list(mapped.frame.columns) == ["case_id", "sex", "age"]
    assert mapped.frame["sex"].tolist() == ["F", "M", "Other"]
    assert (mapped.name, mapped.source_file) == ("cases", "cases.csv")
    assert list(raw.frame.columns) == ["child ref", "gender", "worker", "age"]
    assert raw.frame["gender"].tolist() == ["Female", " MALE", "Other"]


def test_profile_values_are_read_as_text_not_yaml_booleans_or_numbers(tmp_path):
    profile = load_profile(write_profile(tmp_path, """
profile: p
values:
  cases:
    lives_with_parent: {No: N, Yes: Y, Not known: ""}
    plan_type: {01: CP, 1.0: CIN}
"""))
    assert profile.recodes["cases"]["lives_with_parent"] == {"no": "N", "yes": "Y", "not known": ""}
    assert profile.recodes["cases"]["plan_type"] == {"01": "CP", "1.0": "CIN"}


def test_renaming_onto_a_column_the_export_already_has_rejects_the_pack(tmp_path):
    profile = load_profile(write_profile(tmp_path, "profile: p\ncolumns: {cases: {Child Ref: case_id}}\n"))
    raw = table("cases", **{"child ref": ["A1"], "case_id": ["A1"]})
    with pytest.raises(PackRejected) as rejected:
        apply_profile({"cases": raw}, profile)
    assert (rejected.value.rule, rejected.value.table, rejected.value.column) == (
        "duplicate_column", "cases", "case_id")


def test_table_file_names_default_to_the_contract_names(tmp_path):
    profile = load_profile(write_profile(tmp_path, "profile: p\ntables: {cases: Child Records}\n"))
    assert table_file_names(profile) == {"cases": "Child Records", "meetings": "meetings", "actions": "actions",
                                         "contexts": "contexts", "case_contexts": "case_contexts"}


def test_an_optional_table_can_have_an_la_file_name(tmp_path):
    profile = load_profile(write_profile(tmp_path, "profile: p\ntables: {case_contexts: PERSON_CONTEXT_LINKS}\n"))
    assert table_file_names(profile)["case_contexts"] == "PERSON_CONTEXT_LINKS"


# --- bad profiles --------------------------------------------------------------------------------

def test_a_rename_to_an_unknown_column_names_the_file_and_the_key(tmp_path):
    path = write_profile(tmp_path, "profile: p\ncolumns:\n  cases:\n    Child Ref: case_ref\n", "la-cw.yaml")
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    assert "la-cw.yaml" in str(error.value)
    assert "columns.cases.Child Ref" in str(error.value)
    assert "case_ref" in str(error.value)
    assert (error.value.path, error.value.key) == (path, "columns.cases.Child Ref")


@pytest.mark.parametrize("text, key", [
    ("profile: p\nvalues: {cases: {gender: {Female: F}}}\n", "values.cases.gender"),
    ("profile: p\nvalues: {cases: {harm_types: {Sexual: CSE_RISK}}}\n", "values.cases.harm_types.Sexual"),
    ("profile: p\nvalues: {cases: {sex: {Female: F, FEMALE: F}}}\n", "values.cases.sex.FEMALE"),
    ("profile: p\nvalues: {cases: {lives_with_parent: {Sometimes: maybe}}}\n",
     "values.cases.lives_with_parent.Sometimes"),
    ("profile: p\nvalues: {cases: {age: {Unknown: twelve}}}\n", "values.cases.age.Unknown"),
    ("profile: p\nvalues: {referrals: {}}\n", "values.referrals"),
    ("profile: p\ncolumns: {cases: {Ref: case_id, Child Ref: case_id}}\n", "columns.cases.Child Ref"),
    ("profile: p\ncolumns: {cases: {Child Name: case_id}}\n", "columns.cases.Child Name"),
    ("profile: p\ndrop_columns: {cases: [Date of birth]}\n", "drop_columns.cases[0]"),
    ("profile: p\ncolumns: {cases: {Worker: case_id}}\ndrop_columns: {cases: [worker]}\n",
     "drop_columns.cases[0]"),
    ("profile: p\nlist_separators: {cases: {sex: '|'}}\n", "list_separators.cases.sex"),
    ("profile: p\ndate_formats: ['%m.%Y']\n", "date_formats[0]"),
    ("profile: p\nla_codes: [E99999999]\n", "la_codes[0]"),
    ("profile: p\ntables: {cases: Records, meetings: records}\n", "tables.meetings"),
    ("profile: p\ncolums: {}\n", "colums"),
    ("description: no name\n", "profile"),
    ("profile: p\ncolumns:\n  cases:\n    Child Ref: case_id\n    Child Ref: age\n", "line 5"),
    ("profile: p\ncolumns: [\n", "line 3"),
])
def test_bad_profiles_are_refused_naming_the_key(tmp_path, text, key):
    path = write_profile(tmp_path, text, "bad.yaml")
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    assert error.value.key == key
    assert str(error.value).startswith(f"mapping profile {path}: {key}: ")


# --- choosing a profile --------------------------------------------------------------------------

def test_profiles_for_picks_profiles_by_la_code(tmp_path):
    write_profile(tmp_path, "profile: hartlepool\nla_codes: [E06000001]\n", "a.yaml")
    write_profile(tmp_path, "profile: birmingham-and-hartlepool\nla_codes: [e08000025, E06000001]\n", "b.yml")
    write_profile(tmp_path, "profile: example\nla_codes: []\n", "c.yaml")
    write_profile(tmp_path, "not a profile", "notes.txt")
    assert [p.name for p in profiles_for("E06000001", tmp_path)] == ["hartlepool", "birmingham-and-hartlepool"]
    assert [p.name for p in profiles_for(" e08000025 ", tmp_path)] == ["birmingham-and-hartlepool"]
    assert profiles_for("E09000001", tmp_path) == []
    assert profiles_for("E06000001", tmp_path / "missing") == []


def test_profiles_for_reports_a_broken_profile_for_another_la(tmp_path):
    write_profile(tmp_path, "profile: ok\nla_codes: [E06000001]\n", "a.yaml")
    write_profile(tmp_path, "profile: broken\nla_codes: [E08000025]\ncolumns: {cases: {X: nope}}\n", "b.yaml")
    with pytest.raises(ProfileError, match="b.yaml"):
        profiles_for("E06000001", tmp_path)


def test_the_shipped_profiles_apply_to_no_la_by_default():
    assert profiles_for("E08000025") == []
