"""`safeguarding-audit validate`: check one pack the way the pipeline would, storing nothing.

An LA data team runs it before sending. It uses the same reading, mapping, identifier scan and
row rules as ingestion, with a throw-away key held in memory, and reports every problem with where
it is (table, row, column) and how to fix it. Values are never echoed: they could be identifiers."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assets.ingest import prepare_pack
from assets.reading import TABLES, PackRejected, open_pack

EXIT_VALID, EXIT_QUARANTINE, EXIT_REJECTED = 0, 1, 2
KIND_NAMES = {"pack": "Pack", "cin_census": "CIN census return", "ssda903": "SSDA903 return"}


@dataclass
class ValidationReport:
    path: str
    la_code: str | None
    period: str | None
    status: str  # valid | quarantine | rejected
    rejection: dict | None = None
    counts: dict = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems_total: int = 0  # problems found; `problems` lists the first of them (config/checks.yaml)
    problems_by_rule: dict = field(default_factory=dict)  # rule -> rows (packs) or problems (returns)
    # pack | cin_census | ssda903. A statutory return's counts also give, per table, the number of
    # `problems`: rows, would_load and would_quarantine count rows, and one row can have several
    # problems, or (CIN) a problem that only leaves out a value while the row still loads.
    kind: str = "pack"

    @property
    def exit_code(self) -> int:
        return {"valid": EXIT_VALID, "quarantine": EXIT_QUARANTINE, "rejected": EXIT_REJECTED}[self.status]

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "exit_code": self.exit_code}, indent=2)

    def to_text(self) -> str:
        name = KIND_NAMES[self.kind]
        lines = [f"{name} {self.path} ({self.la_code or '?'} {self.period or '?'}): {self.status.upper()}"]
        if self.rejection:
            lines.append(f"  Rejected [{self.rejection['rule']}]: {self.rejection['message']}")
            lines.append(f"  Nothing from this {'pack' if self.kind == 'pack' else 'return'} would be stored.")
        for table, count in self.counts.items():
            if "problems" in count:
                lines.append(f"  {table}: {count['rows']} row(s) read; {count['would_load']} would load, "
                             f"{count['would_quarantine']} would not load (quarantined); "
                             f"{count['problems']} problem(s) found")
            else:
                lines.append(f"  {table}: {count['rows']} row(s); {count['would_load']} would load, "
                             f"{count['would_quarantine']} would be quarantined")
        if self.problems:
            if self.kind == "pack":
                lines.append("  Rows that would be quarantined:")
            else:
                lines.append("  Problems found (one a line; a row can have several):")
            for p in self.problems:
                lines.append(f"    {p['source_file']} {self.where(p)}, {self.element_word} {p['column_name']} "
                             f"[{p['rule']}]: {p['message']}")
            if self.problems_total > len(self.problems):
                lines.append(f"  ... and {self.problems_total - len(self.problems)} more. By rule: " + ", ".join(
                    f"{rule} {count}" for rule, count in self.problems_by_rule.items()) + ".")
        lines.extend(f"  Note: {note}" for note in self.notes)
        return "\n".join(lines)

    @property
    def element_word(self) -> str:
        return "element" if self.kind == "cin_census" else "column"

    def where(self, problem: dict) -> str:
        """Where a problem is, in the file's own terms: a CIN census counts its Child elements."""
        if self.kind != "cin_census":
            return f"row {problem['row_number']}"
        return "Header" if problem["row_number"] == 0 else f"Child {problem['row_number']}"


def validate_pack(path: Path, profile: Path | None = None) -> ValidationReport:
    """Check a pack folder or workbook, or a statutory return (CIN census XML, SSDA903 folder);
    nothing is written anywhere."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix.lower() == ".xml" or path.name.lower().endswith("_ssda903"):
        return validate_statutory(path)
    pack = open_pack(path)
    report = ValidationReport(str(path), pack.la_code, pack.period, "valid")
    try:
        std = prepare_pack(pack, secrets.token_bytes(32), profile, problems_listed=problems_listed())
    except PackRejected as error:
        report.status = "rejected"
        report.rejection = {"rule": error.rule, "message": error.message, "table": error.table,
                            "column": error.column}
        return report
    for table in TABLES:
        if table not in pack.absent_tables:
            report.counts[table] = {"rows": std.rows_in[table], "would_load": std.rows_loaded[table],
                                    "would_quarantine": std.rows_quarantined[table]}
    if "contexts" in pack.absent_tables or not std.rows_loaded["contexts"]:
        report.notes.append("no contexts (the optional tables of contract v1.1 are not sent, or have no row that "
                            "would load): the context measures will be reported as not available.")
    elif "case_contexts" in pack.absent_tables:
        report.notes.append("no case_contexts table: the contexts will be scored, but no case is linked to one "
                            "(CI5 not met for every case).")
    report.problems = [
        {k: (int(v) if k == "row_number" else v) for k, v in row.items()
         if k in ("source_file", "table_name", "row_number", "column_name", "rule", "message")}
        for row in std.quarantine.to_dict("records")
    ]
    report.problems_total, report.problems_by_rule = std.quarantine_rows, std.quarantine_rules
    for table, columns in std.dropped_columns.items():  # shown by name here: validate stores nothing
        named = ", ".join(f"'{name}' (column {position})" for position, name in columns)
        report.notes.append(f"{table}: column(s) {named} are outside the contract and would not be "
                            "stored.")
    if report.problems:
        report.status = "quarantine"
    return report


def problems_listed() -> int:
    from assets.config import load_yaml

    return int(load_yaml("checks.yaml")["validate_problems_listed"])


def validate_statutory(path: Path) -> ValidationReport:
    """A CIN census XML file or an SSDA903 folder, read as the pipeline would read it (an error the
    readers did not foresee is the same `unreadable` rejection as in a run)."""
    from assets.statutory import read_or_reject

    kind = "cin_census" if path.suffix.lower() == ".xml" else "ssda903"
    report = ValidationReport(str(path), None, None, "valid", kind=kind)
    try:
        read = read_or_reject(kind, path, secrets.token_bytes(32))
    except PackRejected as error:
        report.status = "rejected"
        report.rejection = {"rule": error.rule, "message": error.message, "table": error.table,
                            "column": error.column}
        return report
    report.la_code, report.period = read.la_code, read.period
    quarantine = read.quarantine
    for table, frame in read.tables.items():
        problems = quarantine[quarantine["table_name"] == table]
        rows = read.rows_read[table]
        # SSDA903: a row with any problem is not loaded, and is counted once however many it has.
        # CIN: a problem may only leave out a value, so the rows not loaded are those read but not loaded.
        not_loaded = problems["row_number"].nunique() if kind == "ssda903" else rows - len(frame)
        report.counts[table] = {"rows": int(rows), "would_load": len(frame), "would_quarantine": int(not_loaded),
                                "problems": len(problems)}
    report.problems = [
        {k: (int(v) if k == "row_number" else v) for k, v in row.items()
         if k in ("source_file", "table_name", "row_number", "column_name", "rule", "message")}
        for row in quarantine.head(problems_listed()).to_dict("records")
    ]
    report.problems_total = len(quarantine)
    report.problems_by_rule = {str(k): int(v) for k, v in quarantine["rule"].value_counts().items()}
    if kind == "cin_census":
        report.notes.append("A problem that leaves out one value (an unknown code, an invalid date) is reported, "
                            "but its row still loads; a row counts as quarantined only when it would not load. "
                            "Problems are placed by Child: Child 3 is the third Child element in the file.")
    if report.problems:
        report.status = "quarantine"
    return report
