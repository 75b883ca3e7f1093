"""The Excel template: it matches the contract, offers drop-downs for code columns, and a copy
filled in with one valid row per sheet is a pack the pipeline reads and loads without quarantine."""

from __future__ import annotations

import re

import openpyxl
import pytest
import yaml
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries

from assets.config import CONFIG_DIR
from assets.ingest import standardise
from assets.reading import TABLES, open_pack, read_tables, read_workbook
from assets.template import LISTS_SHEET, READ_ME_SHEET, example_rows, write_template

CODED_TYPES = ("code", "codelist", "yn")
CONTRACT_TABLES = tuple(yaml.safe_load((CONFIG_DIR / "contract.yaml").read_text(encoding="utf-8"))["tables"])


def contract_yaml() -> dict:
    return yaml.safe_load((CONFIG_DIR / "contract.yaml").read_text(encoding="utf-8"))


def expected_values(document: dict, spec: dict) -> list[str]:
    if spec["type"] == "yn":
        return ["Y", "N"]
    if "values_from" in spec:
        return [code for codes in document[spec["values_from"]].values() for code in codes]
    return [str(value) for value in spec["values"]]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.xlsx"
    assert write_template(path) == path
    return path


@pytest.fixture(scope="module")
def workbook(template):
    return openpyxl.load_workbook(template)


def validation_for(sheet, letter: str):
    """The data validation covering the column's first data cell, or None."""
    column = column_index_from_string(letter)
    for validation in sheet.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            min_col, min_row, max_col, max_row = range_boundaries(cell_range.coord)
            if min_col <= column <= max_col and min_row <= 2 <= max_row:
                return validation
    return None


def list_values(workbook, formula: str) -> list[str]:
    if formula.startswith('"'):
        return formula.strip('"').split(",")
    sheet_name, cells = formula.rsplit("!", 1)
    sheet = workbook[sheet_name.strip("'")]
    return [row[0].value for row in sheet[cells.replace("$", "")]]


def test_sheets_are_read_me_first_then_the_tables_with_lists_hidden(workbook):
    assert workbook.sheetnames == [READ_ME_SHEET, *contract_yaml()["tables"], LISTS_SHEET]
    assert workbook[LISTS_SHEET].sheet_state == "hidden"
    assert all(workbook[name].sheet_state == "visible" for name in workbook.sheetnames[:-1])


@pytest.mark.parametrize("table", CONTRACT_TABLES)
def test_header_row_is_the_contract_column_order_bold_and_frozen_with_no_data_rows(workbook, table):
    sheet = workbook[table]
    columns = list(contract_yaml()["tables"][table]["columns"])
    assert [cell.value for cell in sheet[1]] == columns
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row == 1


@pytest.mark.parametrize("table", CONTRACT_TABLES)
def test_code_and_yes_no_columns_have_drop_downs_of_the_contract_values(workbook, table):
    document = contract_yaml()
    sheet = workbook[table]
    for position, (column, spec) in enumerate(document["tables"][table]["columns"].items(), start=1):
        letter = get_column_letter(position)
        validation = validation_for(sheet, letter)
        if spec["type"] in CODED_TYPES:
            assert validation is not None and validation.type == "list", column
            assert list_values(workbook, validation.formula1) == expected_values(document, spec), column
            assert [r.coord for r in validation.sqref.ranges] == [f"{letter}2:{letter}1048576"], column
            # a list column must accept several codes typed by hand, which a strict list would refuse
            assert bool(validation.showErrorMessage) == (spec["type"] != "codelist"), column
        if spec["type"] == "date":
            assert "yy" in sheet.column_dimensions[letter].number_format, column


def test_optional_tables_are_marked_with_their_version_and_what_a_row_is(workbook):
    document = contract_yaml()
    optional = [table for table, spec in document["tables"].items() if spec.get("optional")]
    assert optional == ["contexts", "case_contexts"]
    headings = [row[0] for row in workbook[READ_ME_SHEET].iter_rows(values_only=True)
                if isinstance(row[0], str) and row[0].startswith("Sheet '")]
    assert headings == [
        "Sheet 'cases': one row per case_id",
        "Sheet 'meetings': one row per meeting_id",
        "Sheet 'actions': one row per action_id",
        "Sheet 'contexts' (optional, added in contract v1.1): one row per context (a place, peer group, "
        "school or online space)",
        "Sheet 'case_contexts' (optional, added in contract v1.1): one row per link between a case and a context",
    ]
    assert [name for name in workbook.sheetnames if workbook[name].sheet_properties.tabColor] == optional
    lines = [row[0] for row in workbook[READ_ME_SHEET].iter_rows(values_only=True) if isinstance(row[0], str)]
    assert any("contexts and case_contexts sheets (added in contract v1.1) are optional" in line
               and "never its name, address or postcode" in line for line in lines)
    rules = {(row[0], row[4]) for row in workbook[READ_ME_SHEET].iter_rows(values_only=True) if row[0] == "context_id"}
    # The column that came with the contexts table, on meetings and actions: marked, may be left out.
    marked = [rule for _column, rule in rules if rule.startswith("Added in contract v1.1 with the contexts table")]
    assert len(marked) == 2 and all("leave the column out of a pack without a contexts table" in r for r in marked)


def test_examples_of_the_optional_tables_refer_to_each_other():
    contexts, links, meetings = example_rows("contexts"), example_rows("case_contexts"), example_rows("meetings")
    ids = [row["context_id"] for row in contexts]
    assert ids == ["CTX0001", "CTX0002"]
    assert [row["context_id"] for row in links] == ids
    assert [row["case_id"] for row in links] == [row["case_id"] for row in example_rows("cases")]
    assert [row["context_id"] for row in meetings] == ["CTX0001", None]
    assert contexts[0]["closed_date"] >= contexts[0]["identified_date"]


def test_long_lists_come_from_the_hidden_lists_sheet(workbook):
    action_type = validation_for(workbook["actions"], "D")
    assert re.fullmatch(r"'?lists'?!\$A\$2:\$A\$\d+", action_type.formula1)


def test_read_me_explains_every_column_with_its_allowed_values(workbook):
    document = contract_yaml()
    rows = [row for row in workbook[READ_ME_SHEET].iter_rows(values_only=True)]
    described = {row[0]: row for row in rows if row[0] in {c for t in document["tables"].values()
                                                             for c in t["columns"]}}
    for table_spec in document["tables"].values():
        for column, spec in table_spec["columns"].items():
            assert column in described
            if spec["type"] in ("code", "codelist"):
                assert all(code in described[column][3] for code in expected_values(document, spec)), column


def test_a_filled_in_copy_is_a_pack_that_loads(template, tmp_path):
    workbook = openpyxl.load_workbook(template)
    for table in TABLES:
        example = example_rows(table)[0]
        workbook[table].append([example[column] for column in contract_yaml()["tables"][table]["columns"]])
    pack_path = tmp_path / "E06000001_2025Q3.xlsx"
    workbook.save(pack_path)

    tables = read_workbook(pack_path)
    for table in TABLES:
        assert list(tables[table].frame.columns) == list(contract_yaml()["tables"][table]["columns"])
        assert len(tables[table].frame) == 1

    pack = open_pack(pack_path)
    read_tables(pack)
    result = standardise(pack, b"test-key")
    assert result.total_quarantined == 0, result.quarantine[["table_name", "column_name", "rule"]]
    assert result.rows_loaded == {"cases": 1, "meetings": 1, "actions": 1, "contexts": 1, "case_contexts": 1}


def test_both_example_rows_are_valid_together(template, tmp_path):
    workbook = openpyxl.load_workbook(template)
    for table in TABLES:
        for example in example_rows(table):
            workbook[table].append([example[column] for column in contract_yaml()["tables"][table]["columns"]])
    pack_path = tmp_path / "E06000001_2025Q3.xlsx"
    workbook.save(pack_path)
    pack = open_pack(pack_path)
    read_tables(pack)
    result = standardise(pack, b"test-key")
    assert result.total_quarantined == 0, result.quarantine[["table_name", "column_name", "rule"]]
    assert result.rows_loaded == {"cases": 2, "meetings": 2, "actions": 2, "contexts": 2, "case_contexts": 2}
