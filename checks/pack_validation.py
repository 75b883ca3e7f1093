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

    @property
    def exit_code(self) -> int:
        return {"valid": EXIT_VALID, "quarantine": EXIT_QUARANTINE, "rejected": EXIT_REJECTED}[self.status]

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "exit_code": self.exit_code}, indent=2)

    def to_text(self) -> str:
        lines = [f"Pack {self.path} ({self.la_code or '?'} {self.period or '?'}): {self.status.upper()}"]
        if self.rejection:
            lines.append(f"  Rejected [{self.rejection['rule']}]: {self.rejection['message']}")
            lines.append("  Nothing from this pack would be stored.")
        for table, count in self.counts.items():
            lines.append(f"  {table}: {count['rows']} row(s); {count['would_load']} would load, "
                         f"{count['would_quarantine']} would be quarantined")
        if self.problems:
            lines.append("  Rows that would be quarantined:")
            for p in self.problems:
                lines.append(f"    {p['source_file']} row {p['row_number']}, column {p['column_name']} "
                             f"[{p['rule']}]: {p['message']}")
        lines.extend(f"  Note: {note}" for note in self.notes)
        return "\n".join(lines)


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
        std = prepare_pack(pack, secrets.token_bytes(32), profile)
    except PackRejected as error:
        report.status = "rejected"
        report.rejection = {"rule": error.rule, "message": error.message, "table": error.table,
                            "column": error.column}
        return report
    for table in TABLES:
        report.counts[table] = {"rows": std.rows_in[table], "would_load": std.rows_loaded[table],
                                "would_quarantine": std.rows_quarantined[table]}
    report.problems = [
        {k: (int(v) if k == "row_number" else v) for k, v in row.items()
         if k in ("source_file", "table_name", "row_number", "column_name", "rule", "message")}
        for row in std.quarantine.to_dict("records")
    ]
    for table, columns in std.dropped_columns.items():
        report.notes.append(f"{table}: column(s) {', '.join(columns)} are outside the contract and would not be "
                            "stored.")
    if report.problems:
        report.status = "quarantine"
    return report


def validate_statutory(path: Path) -> ValidationReport:
    """A CIN census XML file or an SSDA903 folder, read as the pipeline would read it (an error the
    readers did not foresee is the same `unreadable` rejection as in a run)."""
    from assets.statutory import read_or_reject

    kind = "cin_census" if path.suffix.lower() == ".xml" else "ssda903"
    report = ValidationReport(str(path), None, None, "valid")
    try:
        read = read_or_reject(kind, path, secrets.token_bytes(32))
    except PackRejected as error:
        report.status = "rejected"
        report.rejection = {"rule": error.rule, "message": error.message, "table": error.table,
                            "column": error.column}
        return report
    report.la_code, report.period, quarantine = read.la_code, read.period, read.quarantine
    for table, frame in read.tables.items():
        quarantined = int((quarantine["table_name"] == table).sum()) if len(quarantine) else 0
        report.counts[table] = {"rows": len(frame) + quarantined, "would_load": len(frame),
                                "would_quarantine": quarantined}
    report.problems = [
        {k: (int(v) if k == "row_number" else v) for k, v in row.items()
         if k in ("source_file", "table_name", "row_number", "column_name", "rule", "message")}
        for row in quarantine.to_dict("records")
    ]
    if report.problems:
        report.status = "quarantine"
    return report
