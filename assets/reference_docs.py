"""Reference documents generated from the configuration, so they cannot drift from it:
docs/export-pack.md from config/contract.yaml, config/rule_kinds.yaml and config/rules.yaml, docs/indicators.md from
config/indicators.yaml.

Regenerate with `make docs` (`python -m assets.reference_docs`); a test fails when a committed
document differs from what the configuration now says."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from assets.config import contract, load_yaml
from assets.contract_rules import all_rules, contract_rules
from assets.template import added_text, optional_tables, optional_text, required_tables, row_text, rule_text

DOCS = Path(__file__).resolve().parents[1] / "docs"
GENERATED_NOTE = "<!-- Generated from {sources} by `make docs`; edit those files, not this one. -->"

TYPE_TEXT = {
    "text": "text",
    "integer": "whole number",
    "code": "code",
    "codelist": "list of codes",
    "yn": "Y/N",
    "date": "date",
}


def column_rule(table: str, column: str, spec: dict) -> str:
    """Allowed codes, then the same plain-words rules as the Excel template's read-me sheet."""
    values = ""
    if spec["type"] in ("code", "codelist") and "values_from" not in spec:
        values = "One of " + ", ".join(f"`{v}`" for v in spec["values"]) + ". "
    elif "values_from" in spec:
        values = "An action type from the vocabulary below. "
    privacy = " Pseudonymised or dropped on arrival, never stored." if spec.get("identifier") else ""
    return values + rule_text(table, column, spec) + privacy


def placeholders_in_italics(template: str) -> str:
    """A message template as the docs show it: each placeholder as its name in italics."""
    return re.sub(r"\{([a-z_]+)\}", lambda m: f"*{m[1]}*", template)


def names_text(names: list[str]) -> str:
    """`a`, `b` and `c`."""
    quoted = [f"`{name}`" for name in names]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1] if len(quoted) > 1 else "".join(quoted)


def optional_tables_section() -> list[str]:
    """What the optional tables are for, that they may be left out, and that a context is only a
    reference."""
    optional = optional_tables()
    if not optional:
        return []
    added = "; ".join(sorted({added_text(table) for table in optional} - {""}))
    referring = [f"`{table}.{column}`" for table in required_tables()
                 for column, spec in contract()["tables"][table]["columns"].items()
                 if spec.get("references", "").split(".")[0] in optional]
    added = f", {added}," if added else ""
    return ["## Optional tables", "",
            f"The {names_text(optional)} tables{added} are optional: send them if your case system",
            "records the places, peer groups, schools and online spaces (the *contexts*) your cases are",
            f"linked to. A pack without them, of {names_text(required_tables())} only (a v1 pack), is",
            "still valid; its context indicators are reported as not available.", "",
            f"- `contexts` has one row per {row_text('contexts')};",
            f"  `case_contexts` one row per {row_text('case_contexts')}. A context shared by",
            "  several cases is listed once and linked to each.",
            "- **A context is described only by its reference** (`context_id`, your system's own): never",
            "  its name, address or postcode. A street address or postcode anywhere in a pack is a direct",
            "  identifier and rejects the whole pack.",
            f"- {' and '.join(referring)} say which context a meeting or action is about",
            "  (a context conference about a park, a closure order on a flat, a peer group assessment):",
            "  blank where it is about none; the column may be left out of a pack without the contexts",
            "  table. A context_id that is not in the pack's `contexts` table sets the row aside under",
            "  `references`.",
            ""]


def render_export_pack() -> str:
    spec = contract()
    out = [GENERATED_NOTE.format(sources="config/contract.yaml, config/rule_kinds.yaml and config/rules.yaml"), "",
           "# The export pack: a guide for LA data teams", "",
           "What your authority sends each quarter, and what happens to it. This page is generated from",
           "the contract the pipeline itself reads (`config/contract.yaml`), so it is always what is checked.",
           "",
           "## Before you send",
           "",
           "1. Start from the Excel template: `make template` writes `var/export-pack-template.xlsx`, with",
           "   a read-me sheet, one sheet per table, the header row and drop-down lists for every code.",
           "   Or export CSV (UTF-8 or Windows-1252, comma or semicolon separated) or Parquet files.",
           "2. Name the pack `<LA code>_<period>`: a folder `E06000001_2025Q3/` holding",
           f"   {names_text(required_tables())} files, or one workbook `E06000001_2025Q3.xlsx` with those",
           f"   sheets; and, if you record them, the optional {names_text(optional_tables())}",
           "   ([below](#optional-tables)). The LA code is your 9-character GSS code (E06, E08, E09, E10",
           "   or W06); the period a quarter `YYYYQn`.",
           "3. If your case system names columns or codes differently, ask for a mapping profile",
           "   (see [mapping-profiles.md](mapping-profiles.md)) instead of editing the export by hand.",
           "4. Check it: `safeguarding-audit validate E06000001_2025Q3/` stores nothing and lists every",
           "   problem with the table, row and column, and what to do (exit 0 valid, 1 some rows would be",
           "   quarantined, 2 the pack would be rejected).",
           "",
           "## Never send direct identifiers",
           "",
           "No names, dates of birth, addresses or full postcodes, NHS numbers, UPNs, phone numbers or e-mail",
           "addresses, in any column, any sheet (hidden ones too), any cell beyond a sheet's headings, or any",
           "column name. A pack that holds any of these is **rejected whole** and nothing from it is stored;",
           "the message names the table, the column (by its position unless it is one of the contract's: a",
           "column's name could itself identify someone) and the kind of identifier, never the value. One",
           "NHS number, e-mail address, full postcode, UPN or phone number inside any value is enough; names,",
           "dates, addresses and bare ten-digit numbers are judged by how much of a column they fill. Your",
           "own `case_id` is turned into a keyed pseudonym on arrival and is never stored.",
           "Do not name a pack folder or workbook after a child: a name that is not `<LA code>_<period>` is",
           "rejected and stored only as 'unnamed folder' with its inode number.",
           "",
           "## Values",
           "",
           f"- Y/N columns accept {', '.join(spec['values']['yes_values'])} for yes and "
           f"{', '.join(spec['values']['no_values'])} for no, in any case; blank is missing.",
           "- Dates: `YYYY-MM-DD`, `DD/MM/YYYY` (UK order, never US) or an Excel date cell.",
           "- Codes match without regard to case or surrounding spaces.",
           "- Columns outside the contract are not stored (they are still scanned for identifiers).",
           ""]
    out += optional_tables_section()
    for table, table_spec in spec["tables"].items():
        marked = f" ({optional_text(table)})" if table_spec.get("optional") else ""
        out += [f"## Table `{table}`{marked}", ""]
        if table_spec.get("optional"):
            out += [f"Optional. One row per {row_text(table)}.", ""]
        out += ["| column | type | required | values and rules |", "|---|---|---|---|"]
        for column, column_spec in table_spec["columns"].items():
            required = "yes" if column_spec.get("required") else "no"
            out.append(f"| `{column}` | {TYPE_TEXT[column_spec['type']]} | {required} | "
                       f"{column_rule(table, column, column_spec)} |")
        out.append("")
    out += ["## Action types and their targets", "", "| target | action types |", "|---|---|"]
    for target, types in spec["action_targets"].items():
        out.append(f"| {target} | {', '.join(f'`{t}`' for t in types)} |")
    out += ["", "## What happens to a row that breaks a rule", "",
            "The row is **quarantined**: it is not loaded, and the `quarantine` table records the file, table,",
            "row number (data rows from 1, the header is not a row), column, rule and the message below. The",
            "rest of the pack loads. A meeting or action whose case was quarantined is quarantined too.", "",
            "| rule | message | what to do |", "|---|---|---|"]
    shown = []
    for rule in contract_rules():  # each rule as the LA will read it, for any column it applies to
        row = (rule.rule, *rule.message_parts(column_as="*column*"))
        if row not in shown:
            shown.append(row)
    used = {rule for rule, *_ in shown}
    shown += [(rule, placeholders_in_italics(message), placeholders_in_italics(fix))
              for rule, (message, fix) in all_rules().items() if rule not in used]
    out += [f"| `{rule}` | {message} | {fix} |" for rule, message, fix in shown]
    out += ["", "## What rejects a whole pack", "",
            "Nothing from a rejected pack is stored; `submissions` records why. A pack is rejected when its",
            "name is not `<LA code>_<period>` (`bad_pack_name`), the LA code is not an English or Welsh",
            "authority's (`unknown_la_code`), the period is not a quarter (`bad_period`), a table other than",
            "the optional ones is missing (`missing_table`) or a table appears twice (`duplicate_table`), a",
            "required column is missing (`missing_column`) or a column appears twice (`duplicate_column`), a",
            "file is empty (`empty_file`) or cannot be read, or its rows do not line up with its header, or a quote is",
            "left open (`unreadable`), a file is larger than a limit of config/limits.yaml (`over_limit`), an",
            "`la_code` or `period` column disagrees with the name (`name_mismatch`), a column holds direct",
            "identifiers (`direct_identifier`), the inbox holds two packs for the same LA and period",
            "(`duplicate_pack`), the pack is a link or a hidden folder (`link`, `hidden_folder`), or more",
            "than half its rows would be quarantined (`too_many_quarantined`: most likely the wrong layout",
            "or a missing mapping profile; the share is set in config/checks.yaml).", "",
            "Sending the same pack again changes nothing. A corrected pack for the same LA and period",
            "replaces the earlier one completely.", ""]
    return "\n".join(out)


def render_indicators() -> str:
    from assets.scoring import parse_framework

    # The shipped framework only: a partnership's local indicators are its own, not part of these docs.
    fw = parse_framework(load_yaml("indicators.yaml"))
    out = [GENERATED_NOTE.format(sources="config/indicators.yaml"), "",
           "# The indicators", "",
           "Every indicator is computed per unit and per pack (LA and period) in DuckDB, from the",
           "definitions in `config/indicators.yaml`; this page is generated from that file. The unit is what",
           "an indicator is about: a **case**, or (from contract v1.1) a **context**, a place, peer group,",
           "school or online space linked to cases. For each unit an indicator is either **not applicable**,",
           "or applicable and **met** or **not met**. Only meetings and actions dated inside the period count,",
           "and actions with status `not_done` never count as done.", "",
           "Each rule is written twice: in plain English, for readers who do not read SQL (the words the",
           "site shows), and as the DuckDB SQL the engine runs, over one unit: its own columns, the *flags*",
           "and *tallies* of its unit defined below, and `value` for indicators that define one.",
           "`safeguarding-audit explain` shows the SQL at work for a case (`--case-key`) or a context",
           "(`--context-key`).", "",
           "## Units", "",
           "| unit | one row of | key | tallies count over | results |", "|---|---|---|---|---|"]
    for unit in fw.units.values():
        over = ", ".join(f"`{source}` ({f'dated by `{column}`' if column else 'every row'})"
                         for source, column in unit.sources.items())
        out.append(f"| {unit.name} | `{unit.table}` | `{unit.key}` | {over} | `{unit.results}`, "
                   f"`{unit.domain_scores}` |")
    out += ["",
            "A meeting or action counts for a context when its `context_key` is that context (and for its",
            "case as always). Units are scored in the order above, in one transaction, so that a case",
            "indicator can read the results of the case's contexts (`case_context_results`). A pack",
            "without contexts (a v1 pack) scores exactly as before; its context indicators are reported as",
            "not available (denominator 0, no rate), never as 0.", "",
            "## Domains and scores", "",
            "| domain | title | unit | in the practice score |", "|---|---|---|---|"]
    for domain, spec in fw.domains.items():
        unit = fw.domain_unit(domain)
        if domain in fw.scored_domains:
            role = f"weight {fw.weights.get(domain, 1)}"
        elif spec.get("scored"):
            role = f"no: the pack {unit} score, reported beside it"
        else:
            role = "no (reported only)"
        out.append(f"| {domain} | {spec['title']} | {unit} | {role} |")
    out += ["",
            "- **Unit domain score** (a case's, or a context's): the mean, over the domain's applicable",
            "  indicators, of met = 1 and not met = 0 (PF1 contributes its value); undefined where none",
            "  applies. Informational indicators never enter a score.",
            "- **Pack domain score**: the mean of the unit domain scores that are defined. The pack context",
            "  score (CX) is the mean of the pack's context scores; a pack without contexts has none.",
            "- **Practice score**: the weighted mean of the pack domain scores of the case domains only.",
            "- **Rates**: numerator = units met, denominator = units applicable, with a 95% Wilson score",
            "  interval; pooled over any group of packs by adding numerators and denominators.",
            "- **Networks**: per pack, contexts linked to two or more cases are *shared*; a network is a",
            "  connected component of the graph of cases and contexts with two or more cases, counted in",
            "  bands of 2, 3-5, 6-10 and 11+ cases, and by whether its shared contexts all met "
            f"{fw.network_assessed or '(none)'}.",
            "  Counts only, never a list of contexts or cases.", ""]
    for domain, spec in fw.domains.items():
        members = [i for i in fw.indicators if i.domain == domain]
        if not members:
            continue
        out += [f"## {domain}: {spec['title']}", ""]
        for i in members:
            kind = "informational (reported, never scored)" if i.informational else "scored"
            out += [f"### {i.id} {i.title}", "",
                    f"*{i.question}*", "",
                    f"- Unit: {i.unit}",
                    f"- Applies to: {i.applies_to}", f"  - rule: `{i.applicable}`"]
            if i.value:
                out += [f"- Value: {i.value_is}", f"  - rule: `{i.value}`"]
            out += [f"- Met when: {i.met_when}", f"  - rule: `{i.met}`",
                    f"- Direction: {i.direction} is better; {kind}",
                    f"- Source: {i.citation} ({fw.sources[i.source].strip()})", ""]
    out += ["## Flags", "", "| flag | unit | definition |", "|---|---|---|"]
    out += [f"| `{name}` | {fw.flag_units.get(name, 'case')} | `{expression}` |"
            for name, expression in fw.flags.items()]
    out += ["", "## Tallies", "",
            "Counts over the unit's rows of a source: meetings or actions dated inside the period (for a",
            "context, those whose `context_key` is the context), or every row of a table without dates.", "",
            "| tally | unit | over | counts |", "|---|---|---|---|"]
    for name, tally in fw.tallies.items():
        what = f"distinct `{tally['count_distinct']}` where " if tally.get("count_distinct") else "rows where "
        out.append(f"| `{name}` | {tally['unit']} | {tally['from']} | {what}`{tally['count_where']}` |")
    out.append("")
    return "\n".join(out)


GENERATED = {"export-pack.md": render_export_pack, "indicators.md": render_indicators}


def write_all(folder: Path = DOCS) -> list[Path]:
    written = []
    for name, render in GENERATED.items():
        path = folder / name
        path.write_text(render(), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS):
        print(path)
