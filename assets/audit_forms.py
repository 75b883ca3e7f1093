"""The files of an audit's folder (<home>/audits/<audit_id>/): the sample and the questions as CSV,
one Excel return form per answering agency, the moderation form and the action tracker. The forms
are what the returns are read back from (assets/audit_returns.py), so their layout is defined here
once: RETURN_COLUMNS and TRACKER_COLUMNS."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from assets.audits import MODERATED, AuditTool, SampledCase
from assets.config import load_yaml

RETURN_COLUMNS = ("agency", "case_key", "question_id", "question", "scale", "answer", "comment")
TRACKER_COLUMNS = ("action_id", "recommendation", "owner_agency", "due_date", "status", "updated_at")
ANSWERS_SHEET, ACTIONS_SHEET, READ_ME_SHEET = "answers", "actions", "read me"
TRACKER_FILE = "action_tracker.xlsx"
HEADER_FONT = Font(bold=True)
TRACKER_ROWS = 50  # rows of the tracker given drop-downs


def return_form_name(agency: str) -> str:
    return "moderation_form.xlsx" if agency == MODERATED else f"return_{agency}.xlsx"


def write_sample_csv(path: Path, sample: list[SampledCase]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_key", "stratum", "why_chosen"])
        writer.writerows((case.case_key, case.stratum, case.reason) for case in sample)


def write_questions_csv(path: Path, tool: AuditTool) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question_id", "domain", "scale", "agencies", "text"])
        writer.writerows((q.id, q.domain, q.scale, " ".join(q.agencies), q.question) for q in tool.questions)


def marking() -> str:
    """The restricted marking (config/publication.yaml): the forms hold case_keys and comments."""
    return str(load_yaml("publication.yaml")["restricted"]["marking"])


def mark(sheet) -> None:
    """The marking in the sheet's printed header and footer."""
    sheet.oddHeader.center.text = sheet.oddFooter.center.text = marking()


def read_me(sheet, text: str) -> None:
    sheet.column_dimensions["A"].width = 110
    warning = sheet.cell(row=1, column=1, value=f"{marking()}: do not pass this workbook outside the partnership.")
    warning.font = HEADER_FONT
    for row, line in enumerate(text.strip().splitlines(), start=3):
        sheet.cell(row=row, column=1, value=line).alignment = Alignment(wrap_text=True)
    mark(sheet)


def write_return_form(path: Path, tool: AuditTool, agency: str, sample: list[SampledCase], words: dict) -> None:
    """One agency's return form (or, for `moderated`, the moderation form): a row per sampled case
    and question it answers, the answer a drop-down of the question's scale."""
    workbook = Workbook()
    about = workbook.active
    about.title = READ_ME_SHEET
    read_me(about, tool.forms["moderation_read_me" if agency == MODERATED else "return_read_me"].format(
        agency=agency, **words))
    sheet = workbook.create_sheet(ANSWERS_SHEET)
    mark(sheet)
    for position, name in enumerate(RETURN_COLUMNS, start=1):
        sheet.cell(row=1, column=position, value=name).font = HEADER_FONT
    widths = {"agency": 22, "case_key": 20, "question_id": 12, "question": 70, "scale": 8, "answer": 24,
              "comment": 60}
    for position, name in enumerate(RETURN_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = widths[name]
    sheet.freeze_panes = "A2"
    answer_letter = get_column_letter(RETURN_COLUMNS.index("answer") + 1)
    validations = {scale: DataValidation(type="list", formula1='"' + ",".join(tool.answers(scale)) + '"',
                                         allow_blank=True, showErrorMessage=True, errorTitle="Not an answer",
                                         error=f"Pick one of the {scale} answers in the list.")
                   for scale in tool.scales}
    row = 2
    for case in sample:
        for question in tool.questions_for(agency):
            values = (agency, case.case_key, question.id, question.question, question.scale, None, None)
            for position, value in enumerate(values, start=1):
                sheet.cell(row=row, column=position, value=value)
            sheet.cell(row=row, column=RETURN_COLUMNS.index("question") + 1).alignment = Alignment(wrap_text=True)
            validations[question.scale].add(f"{answer_letter}{row}")
            row += 1
    for validation in validations.values():
        if validation.sqref:
            sheet.add_data_validation(validation)
    workbook.active = 1
    workbook.save(path)


def write_action_tracker(path: Path, tool: AuditTool, words: dict) -> None:
    """The tracker the partnership keeps: an empty actions sheet with drop-downs for the owner and
    the status, and date checks for the dates."""
    workbook = Workbook()
    about = workbook.active
    about.title = READ_ME_SHEET
    read_me(about, tool.forms["tracker_read_me"].format(**words))
    sheet = workbook.create_sheet(ACTIONS_SHEET)
    mark(sheet)
    for position, name in enumerate(TRACKER_COLUMNS, start=1):
        sheet.cell(row=1, column=position, value=name).font = HEADER_FONT
        sheet.column_dimensions[get_column_letter(position)].width = 60 if name == "recommendation" else 18
    sheet.freeze_panes = "A2"
    last = TRACKER_ROWS + 1
    column = {name: get_column_letter(position) for position, name in enumerate(TRACKER_COLUMNS, start=1)}
    owner = DataValidation(type="list", formula1='"' + ",".join(tool.agencies) + '"', allow_blank=True)
    status = DataValidation(type="list", formula1='"' + ",".join(tool.action_statuses) + '"', allow_blank=True)
    dates = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True,
                           showErrorMessage=True, error="A date, such as 31/03/2026.")
    owner.add(f"{column['owner_agency']}2:{column['owner_agency']}{last}")
    status.add(f"{column['status']}2:{column['status']}{last}")
    for name in ("due_date", "updated_at"):
        dates.add(f"{column[name]}2:{column[name]}{last}")
        for row in range(2, last + 1):
            sheet[f"{column[name]}{row}"].number_format = "dd/mm/yyyy"
    for validation in (owner, status, dates):
        sheet.add_data_validation(validation)
    workbook.active = 1
    workbook.save(path)


def write_audit_folder(folder: Path, tool: AuditTool, sample: list[SampledCase], words: dict) -> list[Path]:
    """Every file of a new audit's folder; returns them."""
    (folder / "returns").mkdir(parents=True)
    write_sample_csv(folder / "sample.csv", sample)
    write_questions_csv(folder / "questions.csv", tool)
    for agency in (*tool.agencies, MODERATED):
        write_return_form(folder / return_form_name(agency), tool, agency, sample, words)
    write_action_tracker(folder / TRACKER_FILE, tool, words)
    return sorted(path for path in folder.iterdir() if path.is_file())
