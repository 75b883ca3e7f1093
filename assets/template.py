"""The Excel template an LA data team fills in to make an export pack, generated from
config/contract.yaml so that it always matches the contract the pipeline checks.

The workbook has a "read me" sheet explaining every column (type, whether required, allowed values,
rules, two examples), then one sheet per contract table with the contract's header row, drop-down
lists for code and Y/N columns, and date, text and whole-number formats; a hidden "lists" sheet
holds the lists too long to write into a validation. The data sheets are left empty, so a filled-in
template saved as `<LA code>_<period>.xlsx` is itself a one-workbook pack. The optional tables (and
the columns that refer to them) are marked with the contract version that added them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from assets.config import contract
from assets.contract_rules import column_rules, plain_words
from assets.reading import period_bounds

READ_ME_SHEET = "read me"
LISTS_SHEET = "lists"
EXAMPLE_PERIOD = "2025Q3"  # the quarter the read-me examples are dated in
EXAMPLE_ROWS = 2
LAST_ROW = 1_048_576  # Excel's last row: formats and validations cover whole columns
INLINE_LIST_LIMIT = 255  # Excel refuses a drop-down list written into the validation beyond this length
PROMPT_LIMIT, PROMPT_TITLE_LIMIT, ERROR_LIMIT = 255, 32, 225  # Excel's limits for validation messages

DATE_FORMAT = "dd/mm/yyyy"  # how date cells display; the cell holds a date whatever the display
TEXT_FORMAT = "@"  # references stay text, so Excel keeps leading zeros and does not make numbers of them
INTEGER_FORMAT = "0"

TYPE_NAMES = {"text": "text", "integer": "whole number", "code": "code", "codelist": "list of codes",
              "yn": "Y/N", "date": "date"}

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
OPTIONAL_TAB_COLOUR = "A6A6A6"  # the optional tables' sheet tabs, grey beside the required ones
TITLE_FONT = Font(bold=True, size=14)
HEADING_FONT = Font(bold=True, size=12)


def write_template(path: Path) -> Path:
    """Write the template workbook to `path` (folders are created) and return the path."""
    path = Path(path)
    workbook = Workbook()
    read_me = workbook.active
    read_me.title = READ_ME_SHEET
    table_sheets = {table: workbook.create_sheet(table) for table in contract()["tables"]}
    lists = ListsSheet(workbook.create_sheet(LISTS_SHEET))
    lists.sheet.sheet_state = "hidden"
    for table, sheet in table_sheets.items():
        write_table_sheet(sheet, table, lists)
    write_read_me(read_me)
    workbook.active = 0
    workbook.properties.title = f"Export pack template, contract version {contract()['version']}"
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


# --- what the contract says about a table or column, in words ----------------------------------

def optional_tables() -> list[str]:
    return [table for table, spec in contract()["tables"].items() if spec.get("optional")]


def required_tables() -> list[str]:
    return [table for table in contract()["tables"] if table not in optional_tables()]


def added_text(table: str) -> str:
    """The contract version that added a table, in words ("added in contract v1.1"), or blank."""
    since = contract()["tables"][table].get("since")
    return f"added in contract v{since}" if since else ""


def optional_text(table: str) -> str:
    """How an optional table is marked ("optional, added in contract v1.1"); blank for a required one."""
    if not contract()["tables"][table].get("optional"):
        return ""
    return ", ".join(part for part in ("optional", added_text(table)) if part)


def row_text(table: str) -> str:
    """What one row of a table is: its `row` in the contract, else its key."""
    spec = contract()["tables"][table]
    return spec.get("row") or spec["key"]


def optional_table_referred_to(spec: dict) -> str | None:
    """The optional table a column refers to (meetings.context_id: contexts), which it came with."""
    target = spec.get("references", "").split(".")[0]
    return target if target in optional_tables() else None


def allowed_values(spec: dict) -> list[str]:
    """The values a drop-down offers: the codes of a code or list column, Y and N for a Y/N column."""
    if spec["type"] == "yn":
        return ["Y", "N"]
    if spec["type"] not in ("code", "codelist"):
        return []
    if "values_from" in spec:
        return [code for codes in contract()[spec["values_from"]].values() for code in codes]
    return [str(value) for value in spec["values"]]


def allowed_values_text(spec: dict) -> str:
    if "values_from" in spec:  # action types, grouped by what they act on
        groups = contract()[spec["values_from"]]
        return "\n".join(f"{group}: {', '.join(codes)}" for group, codes in groups.items())
    return ", ".join(allowed_values(spec))


def required_text(spec: dict) -> str:
    if spec.get("required"):
        return "yes"
    if "required_when" in spec:
        (other, value), = spec["required_when"].items()
        return f"when {other} is {value}"
    return "no"


def rule_text(table: str, column: str, spec: dict) -> str:
    """The column's rules, in plain words: its description, then each rule kind's
    (config/rule_kinds.yaml)."""
    rules = [spec["description"]] if spec.get("description") else []
    other = optional_table_referred_to(spec)
    if other and not contract()["tables"][table].get("optional"):
        added = added_text(other) or "added"
        rules.append(f"{added} with the {other} table: blank, or the {other[:-1]} the {table[:-1]} is about; "
                     f"leave the column out of a pack without a {other} table")
    if spec["type"] == "text" and spec.get("identifier"):
        rules.append("the case system's own reference, never a name; it is not stored as written")
    rules += [text for rule in column_rules(table, column, spec) if (text := rule.describe())]
    if spec["type"] != "text" and not spec.get("required") and "required_when" not in spec:
        rules.append("may be left blank")
    text = "; ".join(rules)
    return text[:1].upper() + text[1:] + "." if text else ""


# --- examples ------------------------------------------------------------------------------------

def example_rows(table: str) -> list[dict[str, object]]:
    """Two example rows for a table, valid together across the three tables for EXAMPLE_PERIOD.

    Generated from the contract's rules, so they stay valid when the contract changes: the second
    row leaves optional columns blank, to show that blank is allowed."""
    specs = contract()["tables"][table]["columns"]
    # A code another column depends on (info_source is required for intelligence_submission) is
    # shown in the first example, so the example also shows the dependent column filled in.
    shown_first = {other: value for spec in specs.values()
                   for other, value in spec.get("required_when", {}).items()}
    rows = []
    for index in range(EXAMPLE_ROWS):
        row: dict[str, object] = {}
        for column, spec in specs.items():
            row[column] = example_value(table, column, spec, index, row, shown_first)
        rows.append(row)
    return rows


# Tables whose initial an earlier table has taken (cases: C) use a longer prefix.
EXAMPLE_PREFIXES = {"contexts": "CTX"}


def example_reference(table: str, index: int) -> str:
    """C0001, M0001, A0001, CTX0001: a made-up reference in the table's own series."""
    return f"{EXAMPLE_PREFIXES.get(table, table[0].upper())}{index + 1:04d}"


def example_value(table: str, column: str, spec: dict, index: int, row: dict, shown_first: dict) -> object:
    if index > 0 and not spec.get("required"):
        return None
    kind = spec["type"]
    start, _end = period_bounds(EXAMPLE_PERIOD)
    if "references" in spec:
        return example_reference(spec["references"].split(".")[0], index)
    if kind == "text":
        return example_reference(table, index)
    if kind == "integer":
        if "not_above_column" in spec:
            return row.get(spec["not_above_column"])
        low = int(spec.get("min", 0))
        return (low + int(spec["max"])) // 2 + index if "max" in spec else low + EXAMPLE_ROWS - index
    if kind == "code":
        if index == 0 and column in shown_first:
            return shown_first[column]
        values = allowed_values(spec)
        return values[index % len(values)]
    if kind == "codelist":
        return spec["separator"].join(allowed_values(spec)[index:2 * index + 1])
    if kind == "yn":
        return "Y" if index == 0 else "N"
    if kind == "date":
        if "not_before_column" in spec:
            earlier = row.get(spec["not_before_column"])
            return earlier + dt.timedelta(days=90) if earlier else None
        if spec.get("not_after") == "period_end":
            return start - dt.timedelta(days=30 - 20 * index)
        return start + dt.timedelta(days=14 + 7 * index)
    raise ValueError(f"contract: unknown column type {kind!r} for {table}.{column}")


# --- the sheets ----------------------------------------------------------------------------------

class ListsSheet:
    """The hidden sheet holding drop-down lists too long to write into a validation, one per column."""

    def __init__(self, sheet: Worksheet):
        self.sheet = sheet
        self.used = 0

    def reference(self, name: str, values: list[str]) -> str:
        """Write a list in the next free column and return an absolute reference to its cells."""
        self.used += 1
        letter = get_column_letter(self.used)
        self.sheet.cell(row=1, column=self.used, value=name).font = HEADER_FONT
        for offset, value in enumerate(values, start=2):
            self.sheet.cell(row=offset, column=self.used, value=value)
        return f"{quote_sheetname(self.sheet.title)}!${letter}$2:${letter}${len(values) + 1}"


def list_formula(table: str, column: str, values: list[str], lists: ListsSheet) -> str:
    inline = ",".join(values)
    if len(inline) + 2 <= INLINE_LIST_LIMIT and not any('"' in v or "," in v for v in values):
        return f'"{inline}"'
    return lists.reference(f"{table}.{column}", values)


def column_validation(table: str, column: str, spec: dict, lists: ListsSheet) -> DataValidation | None:
    """A drop-down for code, list and Y/N columns; a whole-number check for bounded integers."""
    kind = spec["type"]
    required = required_text(spec)
    if kind in ("code", "codelist", "yn"):
        values = allowed_values(spec)
        if kind == "codelist":
            # Excel cannot pick several entries from a list: the drop-down offers one code, and
            # typing more, separated by the contract's separator, must not be refused.
            prompt = f"Pick a code, or type several separated by {spec['separator']}"
        else:
            prompt = "Pick from the list"
        validation = DataValidation(
            type="list", formula1=list_formula(table, column, values, lists), allow_blank=True,
            showErrorMessage=kind != "codelist", errorTitle=f"Not a {column} code"[:PROMPT_TITLE_LIMIT],
            error=f"{column} must be one of the codes in the list (see the read me sheet)."[:ERROR_LIMIT])
    elif kind == "integer" and ("min" in spec or "max" in spec):
        low = int(spec.get("min", 0))
        bounds = {"operator": "between", "formula1": str(low), "formula2": str(spec["max"])} if "max" in spec \
            else {"operator": "greaterThanOrEqual", "formula1": str(low)}
        prompt = "A whole number, " + (f"{low} to {spec['max']}" if "max" in spec else f"{low} or more")
        validation = DataValidation(
            type="whole", allow_blank=True, showErrorMessage=True, errorTitle="Not a whole number in range",
            error=f"{column}: {prompt[0].lower()}{prompt[1:]}."[:ERROR_LIMIT], **bounds)
    else:
        return None
    validation.showInputMessage = True
    validation.promptTitle = column[:PROMPT_TITLE_LIMIT]
    validation.prompt = f"{prompt}. Required: {required}."[:PROMPT_LIMIT]
    return validation


def write_table_sheet(sheet: Worksheet, table: str, lists: ListsSheet) -> None:
    """The contract's header row (bold, frozen) and, per column, its format and validation."""
    for position, (column, spec) in enumerate(contract()["tables"][table]["columns"].items(), start=1):
        letter = get_column_letter(position)
        header = sheet.cell(row=1, column=position, value=column)
        header.font, header.fill = HEADER_FONT, HEADER_FILL
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(len(column) + 4, 14)
        number_format = {"date": DATE_FORMAT, "integer": INTEGER_FORMAT, "text": TEXT_FORMAT}.get(spec["type"])
        if number_format:
            dimension.number_format = number_format
        validation = column_validation(table, column, spec, lists)
        if validation is not None:
            validation.add(f"{letter}2:{letter}{LAST_ROW}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    if contract()["tables"][table].get("optional"):
        sheet.sheet_properties.tabColor = OPTIONAL_TAB_COLOUR


READ_ME_COLUMNS = ("column", "type", "required", "allowed values", "rule",
                   *(f"example {n}" for n in range(1, EXAMPLE_ROWS + 1)))
READ_ME_WIDTHS = (30, 14, 30, 60, 60) + (22,) * EXAMPLE_ROWS


def read_me_lines() -> list[str]:
    tables = ", ".join(required_tables())
    optional = optional_tables()
    example_code = "E06000001"
    lines = [
        f"Fill in one sheet per table ({tables}), one row per record, starting on row 2. Do not rename "
        "the sheets or change the header rows; leave unused rows empty.",
        f"Save the workbook as <LA code>_<period>.xlsx, for example {example_code}_{EXAMPLE_PERIOD}.xlsx: "
        "the LA's 9-character GSS code and the calendar quarter (2025Q3 is 1 July to 30 September 2025).",
        "Code and Y/N columns have drop-down lists. Codes are matched ignoring case and surrounding spaces.",
        f"Dates: {plain_words({'type': 'date'})['date_formats']} (UK order, never US).",
        "No names, addresses, dates of birth, full postcodes, NHS numbers, UPNs, phone numbers or e-mail "
        "addresses anywhere: a pack holding any of them is rejected whole and nothing from it is stored.",
        "A row that breaks a rule below is set aside (quarantined) with a message saying what to fix; the "
        "other rows load.",
        f"The examples are for the quarter {EXAMPLE_PERIOD}; they are not part of the pack.",
    ]
    if optional:
        names = " and ".join(optional)
        added = "; ".join(sorted({added_text(table) for table in optional} - {""}))
        lines.insert(1, f"The {names} sheets{f' ({added})' if added else ''} are optional: fill them in if your case "
                        "system records the places, peer groups, schools and online spaces your cases are "
                        "linked to, or leave them empty. A context is described only by its reference: never "
                        "its name, address or postcode.")
    return lines


def write_read_me(sheet: Worksheet) -> None:
    """Instructions, then per table a row per column: type, required, allowed values, rule, examples."""
    sheet.cell(row=1, column=1, value=f"Export pack template (contract version {contract()['version']})"
               ).font = TITLE_FONT
    row = 2
    for line in read_me_lines():
        row += 1
        sheet.cell(row=row, column=1, value=line)
    for table, table_spec in contract()["tables"].items():
        row += 2
        marked = f" ({optional_text(table)})" if table_spec.get("optional") else ""
        heading = f"Sheet '{table}'{marked}: one row per {row_text(table)}"
        sheet.cell(row=row, column=1, value=heading).font = HEADING_FONT
        row += 1
        for position, name in enumerate(READ_ME_COLUMNS, start=1):
            cell = sheet.cell(row=row, column=position, value=name)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        examples = example_rows(table)
        for column, spec in table_spec["columns"].items():
            row += 1
            values = (column, TYPE_NAMES[spec["type"]], required_text(spec), allowed_values_text(spec),
                      rule_text(table, column, spec), *(example[column] for example in examples))
            for position, value in enumerate(values, start=1):
                cell = sheet.cell(row=row, column=position, value=value)
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                if isinstance(value, dt.date):
                    cell.number_format = DATE_FORMAT
    for position, width in enumerate(READ_ME_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = width
