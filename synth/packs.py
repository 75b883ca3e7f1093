"""The entry point: ``write_packs`` writes synthetic export packs, and with faults the rejected packs
and the faults manifest, for a seeded choice of LAs and quarters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from synth.cases import generate_la_packs
from synth.contexts import recording_start
from synth.faults import MANIFEST_NAME, plant_row_faults, write_manifest
from synth.population import audit_quarters, case_volumes, choose_local_authorities
from synth.rejected_packs import write_rejected_packs
from synth.writers import assign_styles, write_pack


def write_packs(
    out_dir: Path,
    las: int = 3,
    quarters: int = 4,
    seed: int = 1,
    cases_per_la: int | None = None,
    faults: bool = False,
    formats: str = "mixed",
    progress: Callable[[str], None] | None = None,
    scale: float = 1.0,
    contexts: str = "mixed",
) -> list[Path]:
    """Write synthetic export packs to ``out_dir`` and return their paths.

    Args:
        out_dir: folder to write into (created if needed). An earlier copy of any pack written
            here is replaced.
        las: how many LAs (seeded choice; English first, Welsh added above 153).
        quarters: how many consecutive quarters, ending 2025Q4.
        seed: the seed; the same arguments always give byte-identical files.
        scale: with cases_per_la None, multiplies the national volume (about 25,000 cases a quarter).
        cases_per_la: exactly this many cases per LA per quarter; if None, volumes follow DfE C3
            (``population.national_case_counts``).
        faults: also plant bad rows and bad packs, described in ``faults_manifest.json``.
        formats: "csv" (every pack a folder of UTF-8 comma CSVs) or "mixed" (every form the
            contract accepts; the same logical data as "csv").
        progress: called with a short line for each pack written.
        contexts: which packs record contexts (contract v1.1: the contexts and case_contexts
            tables, and context_id on meetings and actions): "mixed" (a seeded choice per LA, as
            ``contexts.CONTEXT_RECORDING_FROM``: some from the first quarter, some from a later
            one, some never), "all" or "none" (every pack a v1 pack of three tables).

    The manifest (faults only) is ``{"faults": [...], "rows": {pack: {table: rows written}},
    "clean_rows": {pack: {table: rows expected to load clean}}}``, where each fault is
    ``{"pack", "outcome" ("quarantine"|"reject"), "table", "row_number" (data rows from 1, or
    null), "column", "rule", "note"}``.
    """
    if formats not in ("csv", "mixed"):
        raise ValueError(f"formats must be 'csv' or 'mixed', got {formats!r}")
    if contexts not in ("mixed", "all", "none"):
        raise ValueError(f"contexts must be 'mixed', 'all' or 'none', got {contexts!r}")
    if cases_per_la is not None and cases_per_la < 1:
        raise ValueError(f"cases_per_la must be at least 1, got {cases_per_la}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _line: None)

    chosen = choose_local_authorities(las, seed)
    periods = audit_quarters(quarters)
    if cases_per_la is None:
        volumes = case_volumes(chosen, scale)
    else:
        volumes = {code: cases_per_la for code in chosen}

    starts = {code: {"all": periods[0], "none": None}.get(contexts) if contexts != "mixed"
              else recording_start(code, periods, seed) for code in chosen}
    packs = [pack for code in chosen
             for pack in generate_la_packs(code, periods, volumes[code], seed, contexts_from=starts[code])]
    styles = assign_styles(packs, formats, seed)
    fault_entries = plant_row_faults(packs, styles, seed) if faults else []

    written: list[Path] = []
    row_counts: dict[str, dict[str, int]] = {}
    for pack in packs:
        style = styles[pack.name]
        path = write_pack(out_dir, pack, style, seed)
        written.append(path)
        row_counts[path.name] = {table: len(rows) for table, rows in pack.tables.items()}
        counts = row_counts[path.name]
        recorded = (f", {counts['contexts']} contexts, {counts['case_contexts']} links"
                    if "contexts" in counts else " (contract v1: no contexts)")
        report(f"{path.name}: {style.label}; {counts['cases']} cases, "
               f"{counts['meetings']} meetings, {counts['actions']} actions{recorded}")

    if not faults:
        # A manifest left by an earlier faulty run would describe packs that are now clean.
        (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
        return written

    reject_paths, reject_entries, reject_rows = write_rejected_packs(
        out_dir, chosen, periods, seed, report
    )
    written.extend(reject_paths)
    row_counts.update(reject_rows)
    write_manifest(out_dir, fault_entries + reject_entries, row_counts)
    return written
