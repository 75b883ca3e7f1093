"""Planning a multi-agency case audit: the sample recorded in the warehouse and the audit's folder
of forms written (assets/audits.py draws the sample, assets/audit_forms.py writes the files), and
`reidentify`, which the LA's own data team runs to turn sampled case_keys back into case_ids."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.audit_forms import write_audit_folder
from assets.audits import SampledCase, SampleError, audit_tool, draw_sample, pack_cases
from assets.config import local_authorities
from assets.scoring import framework
from assets.warehouse import transaction


@dataclass(frozen=True)
class AuditPlan:
    audit_id: str
    folder: Path
    sample: list[SampledCase]
    files: list[Path]


def plan_audit(con: duckdb.DuckDBPyConnection, audits_dir: Path, la_code: str, period: str, size: int,
               theme: str | None = None, focus: str | None = None, seed: int = 1) -> AuditPlan:
    """Draw the sample of one loaded pack, write the audit's folder (sample, questions, return
    forms, moderation form, action tracker) and record the audit and its sample in the warehouse.
    The folder appears whole or not at all, and only once the warehouse has the audit."""
    tool = audit_tool()
    scored = framework().scored_domains
    if focus is not None and focus not in scored:
        raise SampleError(f"--focus must be one of the scored domains {', '.join(scored)}, not {focus!r}")
    loaded = con.execute("SELECT count(*) FROM submissions WHERE la_code = ? AND period = ? AND status = 'loaded'",
                         [la_code, period]).fetchone()[0]
    if not loaded:
        held = [f"{la} {p}" for la, p in con.execute(
            "SELECT DISTINCT la_code, period FROM submissions WHERE status = 'loaded' ORDER BY ALL").fetchall()]
        listed = ", ".join(held[:8]) + (f" and {len(held) - 8} more" if len(held) > 8 else "")
        raise SampleError(f"no pack of {la_code} for {period} is loaded in the warehouse; it holds "
                          f"{listed or 'none yet (run the pipeline first)'}")
    sample = draw_sample(pack_cases(con, la_code, period, focus), size, seed, focus)
    number = 1 + con.execute("SELECT count(*) FROM audits WHERE la_code = ? AND period = ?",
                             [la_code, period]).fetchone()[0]
    audit_id = f"{la_code}_{period}_{number:02d}"
    folder = audits_dir / audit_id
    if folder.exists():
        raise SampleError(f"{folder} exists already, but the warehouse has no audit {audit_id}: move it aside")
    staging = audits_dir / f".{audit_id}.new"
    if staging.exists():
        shutil.rmtree(staging)
    authority = local_authorities().get(la_code)
    words = {"audit_id": audit_id, "la_name": authority.name if authority else la_code,
             "period": f"{period[:4]} Q{period[-1]}", "theme": theme or "(none given)"}
    # The folder is put in place before the warehouse records the audit: a crash in between leaves a
    # folder the next plan refuses to overwrite (and says so), never an audit with no forms.
    try:
        write_audit_folder(staging, tool, sample, words)
        staging.rename(folder)
        try:
            with transaction(con):
                con.execute("INSERT INTO audits VALUES (?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?)",
                            [audit_id, la_code, period, theme, focus, size, seed, tool.version])
                con.executemany("INSERT INTO audit_samples VALUES (?, ?, ?, ?)",
                                [(audit_id, case.case_key, case.stratum, case.reason) for case in sample])
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return AuditPlan(audit_id, folder, sample, sorted(p for p in folder.iterdir() if p.is_file()))


def case_ids_in_pack(pack_path: Path) -> tuple[str, set[str]]:
    """The LA code of a pack and the case_ids of its cases table (trimmed), read within the pack
    limits. For the LA's own tools (reidentify, explain --case-id): nothing is stored."""
    return references_in_pack(pack_path, "cases", "case_id")


def references_in_pack(pack_path: Path, table: str, column: str) -> tuple[str, set[str]]:
    """The LA code of a pack and the references in one column of one of its tables (trimmed; an
    optional table not sent has none), read within the pack limits. Nothing is stored."""
    from assets.reading import PackRejected, check_identity, open_pack, open_tables

    pack = open_pack(pack_path, hash_content=False)
    check_identity(pack)
    source = open_tables(pack)[table]
    if column not in source.columns:
        raise PackRejected("missing_column", f"{source.source_file} has no {column} column.", table)
    position = source.columns.index(column)
    ids = set()
    for batch in source.batches():
        ids.update(value.strip() for value in batch.column(position).to_pylist() if value and value.strip())
    return pack.la_code, ids


def reidentify(sample_csv: Path, pack_path: Path, secret: bytes) -> list[tuple[str, str | None]]:
    """Each sampled case_key with the LA's case_id, found by deriving every case_id's key in the
    LA's own copy of the pack (None where the pack has no such case). Reads; stores nothing."""
    from assets.standardise import case_key

    if not sample_csv.is_file():
        raise ValueError(f"{sample_csv} is not a file: give the audit's sample.csv")
    with sample_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if "case_key" not in (reader.fieldnames or []):
            raise ValueError(f"{sample_csv.name} has no case_key column: give the audit's sample.csv")
        keys = [row["case_key"] for row in reader]
    la_code, ids = case_ids_in_pack(pack_path)
    found = {case_key(secret, la_code, case_id): case_id for case_id in sorted(ids)}
    return [(key, found.get(key)) for key in keys]
