"""`safeguarding-audit audit ...`: the multi-agency case audit cycle (docs/audits.md)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pipelines.settings import AuditHome
from pipelines.terminal import EXIT_OK, UsageError, say


def add_audit_commands(command, add_home, la_code, quarter, positive, audit_id) -> None:
    """The `audit` command and its subcommands, built with the main parser's helpers."""
    audit = command("audit", None, "Multi-agency case audits: plan one, reidentify its sample, follow its returns.")
    steps = audit.add_subparsers(dest="audit_command", metavar="STEP", required=True)

    def step(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = steps.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--debug", action="store_true", help="show tracebacks on errors")
        sub.set_defaults(handler=handler)
        return sub

    plan = step("plan", cmd_plan, "Draw a reproducible stratified sample of one loaded pack's cases and write "
                "the audit's folder: sample, questions, a return form per agency, a moderation form and an "
                "action tracker.")
    add_home(plan)
    plan.add_argument("--la", required=True, type=la_code, help="LA code, e.g. E06000001")
    plan.add_argument("--period", required=True, type=quarter, help="quarter, e.g. 2025Q3")
    plan.add_argument("--size", required=True, type=positive, help="cases to audit (typically 4 to 8)")
    plan.add_argument("--theme", help="what the audit is about, e.g. 'county lines'")
    plan.add_argument("--focus", type=str.upper, help="a scored domain (PI, OF, CI, PF): cases scoring below "
                      "0.5 in it make at least half the sample")
    plan.add_argument("--seed", type=int, default=1, help="random seed (default 1): the same seed, the same sample")

    status = step("status", cmd_status, "Which returns of each audit are in, missing or rejected, and why.")
    add_home(status)
    status.add_argument("--audit", type=audit_id, help="one audit's id, e.g. E06000001_2025Q3_01 (default: every "
                        "audit)")

    report = step("report", cmd_report, "Write the restricted board report of one audit under "
                  "<home>/restricted/ (HTML; with --pdf, a PDF too), marked OFFICIAL-SENSITIVE on every page.")
    add_home(report)
    report.add_argument("--audit", required=True, type=audit_id, help="the audit's id, e.g. E06000001_2025Q3_01")
    report.add_argument("--pdf", action="store_true", help="also print it to PDF (needs Chromium: make browser)")

    again = step("reidentify", cmd_reidentify, "For the LA's own data team: print each sampled case_key with "
                 "the LA's case_id, from their own copy of the pack. Stores nothing anywhere.")
    add_home(again)
    again.add_argument("--sample", required=True, type=Path, help="the audit's sample.csv")
    again.add_argument("--pack", required=True, type=Path, help="the LA's own copy of the pack (folder or workbook)")


def cmd_status(args) -> int:
    from assets import warehouse
    from assets.audit_returns import audit_status

    home = AuditHome.resolve(args.home)
    if not home.warehouse.exists():
        raise UsageError(f"there is no warehouse at {home.warehouse}: run `safeguarding-audit run` first.")
    with warehouse.reading(home.warehouse) as con:
        known = [row for row in con.execute("SELECT audit_id, la_code, period, theme, size FROM audits "
                                            "ORDER BY audit_id").fetchall()]
        chosen = [row for row in known if args.audit in (None, row[0])]
        if args.audit and not chosen:
            raise UsageError(f"there is no audit {args.audit}; the audits are: "
                             f"{', '.join(row[0] for row in known) or 'none yet (audit plan makes one)'}")
        for audit_id, la_code, period, theme, size in chosen:
            print(f"{audit_id}: {la_code} {period}, {size} case(s){', theme: ' + theme if theme else ''}")
            for status in audit_status(con, audit_id):
                counts = f" ({status.answers} answers, {status.quarantined} rows quarantined)" if status.state == "in" \
                    else ""
                print(f"  {status.agency:<22} {status.state:<9}{counts} {status.detail}".rstrip())
    if not known:
        print("No audits yet: `safeguarding-audit audit plan` makes one.")
    say(f"completed returns go into {home.audits}/<audit>/returns/ and are loaded by `safeguarding-audit run`")
    return EXIT_OK


def cmd_report(args) -> int:
    from assets import warehouse
    from dashboards.audit_report import ReportError, write_report

    home = AuditHome.resolve(args.home)
    if not home.warehouse.exists():
        raise UsageError(f"there is no warehouse at {home.warehouse}: run `safeguarding-audit run` first.")
    with warehouse.reading(home.warehouse) as con:
        try:
            written = write_report(con, args.audit, home.restricted / "audits" / args.audit, pdf=args.pdf)
        except ReportError as error:
            raise UsageError(str(error)) from error
    say("restricted: for the partnership's own auditors and board; never publish it")
    for path in written:
        print(path)
    return EXIT_OK


def cmd_plan(args) -> int:
    from assets import warehouse
    from assets.audit_plan import plan_audit
    from assets.audits import AuditToolError, SampleError

    home = AuditHome.resolve(args.home)
    if not home.warehouse.exists():
        raise UsageError(f"there is no warehouse at {home.warehouse}: run `safeguarding-audit run` first.")
    home.audits.mkdir(parents=True, exist_ok=True)
    home.audits.chmod(0o700)  # case_keys and, later, auditors' comments: only the pipeline's user
    with warehouse.locked(home.warehouse, wait_message=say):
        con = warehouse.connect(home.warehouse)
        try:
            plan = plan_audit(con, home.audits, args.la, args.period, args.size, theme=args.theme,
                              focus=args.focus, seed=args.seed)
        except (SampleError, AuditToolError) as error:
            raise UsageError(str(error)) from error
        finally:
            con.close()
    strata = sorted({case.stratum for case in plan.sample})
    say(f"sampled {len(plan.sample)} case(s) of {args.la} {args.period} (strata: {', '.join(strata)})")
    say(f"wrote {len(plan.files)} file(s) into {plan.folder}: send each agency its return form; completed "
        f"returns go into {plan.folder / 'returns'}")
    print(plan.audit_id)
    return EXIT_OK


def cmd_reidentify(args) -> int:
    from assets.audit_plan import reidentify
    from assets.reading import PackRejected
    from assets.secret import KEY_ENV, load_secret

    home = AuditHome.resolve(args.home)
    for path, what in ((args.sample, "sample file"), (args.pack, "pack")):
        if not path.exists():
            raise UsageError(f"the {what} {path} does not exist.")
    if not os.environ.get(KEY_ENV) and not home.key_file.exists():
        # Without the installation's key no case_key can be matched; and a new key must not be made here.
        raise UsageError(f"there is no pseudonymisation key at {home.key_file} (nor in ${KEY_ENV}): use the "
                         "home whose warehouse the sample came from, or set the key the partnership gave you.")
    try:
        found = reidentify(args.sample, args.pack, load_secret(home.key_file))
    except PackRejected as error:
        raise UsageError(f"{args.pack}: {error}") from error
    except ValueError as error:
        raise UsageError(str(error)) from error
    print("case_key,case_id")
    for key, case_id in found:
        print(f"{key},{case_id if case_id is not None else 'NOT IN THIS PACK'}")
    return EXIT_OK


def demo_audit(home: AuditHome, seed: int) -> str | None:
    """For `demo`: plan one audit of the first LA's latest quarter, fill in every return with
    synthetic answers (synth/audits.py). The next run loads them; returns the audit's id."""
    from datetime import date

    from assets import warehouse
    from assets.audit_plan import plan_audit
    from assets.audits import SampleError, audit_tool
    from synth.audits import fill_action_tracker, fill_audit_returns

    with warehouse.locked(home.warehouse, wait_message=say):
        con = warehouse.connect(home.warehouse)
        try:
            found = con.execute("""SELECT la_code, period FROM submissions WHERE status = 'loaded'
                                   ORDER BY period DESC, la_code LIMIT 1""").fetchone()
            if found is None:
                return None
            try:
                plan = plan_audit(con, home.audits, *found, size=6, theme="Exploitation outside the home",
                                  focus="PI", seed=seed)
            except SampleError as error:
                say(f"no demonstration audit: {error}")
                return None
            scores = {(key, domain): score for key, domain, score in con.execute("""
                SELECT s.case_key, s.domain, s.score FROM case_domain_scores s
                JOIN audit_samples a ON a.case_key = s.case_key AND a.audit_id = ?
                WHERE s.la_code = ? AND s.period = ? AND s.score IS NOT NULL""", [plan.audit_id, *found]).fetchall()}
        finally:
            con.close()
    written = fill_audit_returns(plan.folder, audit_tool(), scores, seed=seed)
    fill_action_tracker(plan.folder, date.today(), seed=seed)
    say(f"planned the demonstration audit {plan.audit_id} and filled in its {len(written)} returns and its "
        "action tracker")
    return plan.audit_id
