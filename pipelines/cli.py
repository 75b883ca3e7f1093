"""The `safeguarding-audit` command line (contract: docs/cli.md).

`run` and `demo` execute the Dagster job of pipelines.definitions in-process against the Dagster
instance under <home>/dagster, so every run also appears in the Dagster UI's history."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path

from pipelines.settings import AuditHome
from pipelines.terminal import EXIT_ERROR, EXIT_OK, EXIT_REJECTED, UsageError, say, setup_progress_display


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_ERROR
    setup_progress_display()
    # SIGTERM (kill, a service manager stopping the job, a terminal closing) stops a command the
    # same orderly way as Ctrl-C: a transaction under way rolls back and the lock is let go. Dagster
    # hands SIGTERM to whatever handles SIGINT while it executes a run, so this holds there too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("Interrupted; the warehouse keeps its last complete state.", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # one plain paragraph unless --debug
        if args.debug:
            traceback.print_exc()
        else:
            print(f"safeguarding-audit {args.command}: {error}", file=sys.stderr)
            print("(run again with --debug for the details)", file=sys.stderr)
        return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safeguarding-audit",
        description="Measure whether practice with children harmed outside the family treats parents as "
                    "partners, targets offenders and changes contexts.")
    parser.add_argument("--version", action=ShowVersion, nargs=0,
                        help="show the version, the export pack contract and the framework, then exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--debug", action="store_true", help="show tracebacks on errors")
        sub.set_defaults(handler=handler)
        return sub

    demo = command("demo", cmd_demo, "Make synthetic packs, run the whole pipeline and publish the dashboards.")
    add_home(demo)
    demo.add_argument("--las", type=positive, default=4, help="number of local authorities (default 4)")
    demo.add_argument("--quarters", type=positive, default=4, help="number of quarters (default 4)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")

    run = command("run", cmd_run, "Ingest every new or changed pack in the inbox, score and publish.")
    add_home(run)
    run.add_argument("--inbox", type=Path, help="folder of packs (default <home>/inbox)")
    run.add_argument("--la", type=la_code, help="with --period and --force: the LA whose pack to load again")
    run.add_argument("--period", type=quarter, help="with --la and --force: the quarter, e.g. 2025Q3")
    run.add_argument("--force", action="store_true",
                     help="load the pack of --la and --period again (and score it) even if it is unchanged")

    validate = command("validate", cmd_validate, "Check one pack as the pipeline would, storing nothing "
                       "(exit 0 valid, 1 valid with rows to quarantine, 2 rejected).")
    validate.add_argument("path", type=Path,
                          help="a pack folder <LA code>_<period>/ or workbook <LA code>_<period>.xlsx")
    validate.add_argument("--profile", type=Path, help="a mapping profile (YAML) for the LA's own layout")
    validate.add_argument("--json", action="store_true", help="print the report as JSON (see docs/cli.md)")

    export = command("export", cmd_export, "Write the publishable aggregates (suppressed) as CSV and Parquet, "
                     "with a data dictionary, for researchers.")
    add_home(export)
    export.add_argument("--out", type=Path, help="folder to write into (default <home>/exports); replaced whole")

    explain = command("explain", cmd_explain, "Show why each indicator is met or not for one case (or one "
                      "context), and which meetings and actions counted.")
    add_home(explain)
    explain.add_argument("--la", required=True, type=la_code, help="LA code, e.g. E06000001")
    explain.add_argument("--period", required=True, type=quarter, help="quarter, e.g. 2025Q3")
    which = explain.add_mutually_exclusive_group(required=True)
    which.add_argument("--case-key", help="the case's 16-character case_key")
    which.add_argument("--case-id", help="the LA's own case_id, with --pack: the key is derived, nothing stored")
    which.add_argument("--context-key", help="a context's 16-character context_key: its context indicators")
    which.add_argument("--context-id", help="the LA's own context_id, with --pack: the key is derived, nothing stored")
    explain.add_argument("--pack", type=Path, help="with --case-id or --context-id: the LA's own copy of the pack "
                         "holding the case or context")

    report = command("report", cmd_board_report, "Print the board's summary of the latest quarter (the site's "
                     "headlines page) to PDF.")
    add_home(report)
    report.add_argument("--board", action="store_true", required=True,
                        help="the board's one-page summary (the only report so far; audits have `audit report`)")
    report.add_argument("--out", type=Path, help="the PDF to write (default <home>/reports/board-<quarter>.pdf)")

    from pipelines.audit_cli import add_audit_commands

    add_audit_commands(command, add_home, la_code, quarter, positive, audit_id)

    synth = command("synth", cmd_synth, "Write synthetic export packs.")
    synth.add_argument("--out", type=Path, required=True, help="folder to write the packs into")
    synth.add_argument("--las", type=positive, default=3, help="number of local authorities (default 3)")
    synth.add_argument("--quarters", type=positive, default=4, help="number of quarters (default 4)")
    synth.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    synth.add_argument("--cases-per-la", type=positive, help="cases per pack (default: in proportion to each "
                       "LA's published exploitation and missing assessments)")
    synth.add_argument("--faults", action="store_true",
                       help="also plant the bad inputs a real inbox gets, with a manifest of what and where")
    synth.add_argument("--formats", choices=["mixed", "csv"], default="mixed",
                       help="mixed: CSV, Excel and Parquet in the encodings the contract accepts (default)")
    return parser


def add_home(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--home", type=Path, help="the audit home (default ./var or $SAFEGUARDING_AUDIT_HOME)")


class ShowVersion(argparse.Action):
    """--version on one line (argparse's own version action wraps it to the terminal's width), and
    worked out only when asked: it loads the framework."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def version_text() -> str:
    """The installed package's version, the contract version and the framework's fingerprint (as
    the site's footer gives it), so a report can say exactly what produced it."""
    from importlib.metadata import PackageNotFoundError, version

    from assets.config import contract
    from assets.scoring import framework

    try:
        package = version("safeguarding-audit")
    except PackageNotFoundError:  # run from a source tree that was never installed
        package = "not installed"
    return (f"safeguarding-audit {package} (export pack contract {contract()['version']}, "
            f"indicator framework {framework().sha256[:12]})")


def quarter(text: str) -> str:
    from assets.reading import PERIOD

    value = text.strip().upper()
    if not PERIOD.match(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a quarter: write it YYYYQn, for example 2025Q3")
    return value


def la_code(text: str) -> str:
    from assets.config import local_authorities

    value = text.strip().upper()
    if value not in local_authorities():
        raise argparse.ArgumentTypeError(f"'{text}' is not an English or Welsh LA code (a GSS code such as "
                                         "E06000001; config/la_codes.csv lists them)")
    return value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def audit_id(text: str) -> str:
    from pipelines.partitions import AUDIT_ID

    value = text.strip().upper()
    if not AUDIT_ID.match(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not an audit's id: write it <LA code>_<quarter>_<number>, "
                                         "for example E06000001_2025Q3_01 (as `audit plan` printed it)")
    la_code(value.split("_")[0])
    return value


# --- commands -----------------------------------------------------------------------------------

def cmd_synth(args) -> int:
    from synth.packs import write_packs

    packs = write_packs(args.out, las=args.las, quarters=args.quarters, seed=args.seed,
                        cases_per_la=args.cases_per_la, faults=args.faults, formats=args.formats, progress=say)
    print(f"{len(packs)} pack(s) written to {args.out}")
    return EXIT_OK


def cmd_validate(args) -> int:
    from checks.pack_validation import validate_pack

    if not args.path.exists():
        raise UsageError(f"{args.path} does not exist. Give the path of a pack folder or workbook.")
    if args.profile and not args.profile.is_file():
        raise UsageError(f"the mapping profile {args.profile} does not exist.")
    report = validate_pack(args.path, args.profile)
    print(report.to_json() if args.json else report.to_text())
    return report.exit_code


def cmd_export(args) -> int:
    from assets import warehouse
    from dashboards.exports import write_exports
    from dashboards.publication import build_publication

    home = AuditHome.resolve(args.home)
    if not home.warehouse.exists():
        raise UsageError(f"there is no warehouse at {home.warehouse}: run `safeguarding-audit run` first.")
    out = (args.out or home.exports).resolve()
    with warehouse.reading(home.warehouse) as con:
        say("building the published aggregates (disclosure control applied)")
        written = write_exports(build_publication(con, limit=threshold_from_environment()), out)
    for path in written:
        say(f"  {path.name}")
    print(out)
    return EXIT_OK


def cmd_board_report(args) -> int:
    from assets import warehouse
    from dashboards.audit_report import ReportError
    from dashboards.board_report import board_report_name, write_board_report

    home = AuditHome.resolve(args.home)
    if not home.warehouse.exists():
        raise UsageError(f"there is no warehouse at {home.warehouse}: run `safeguarding-audit run` first.")
    with warehouse.reading(home.warehouse) as con:
        latest = con.execute("SELECT max(period) FROM submissions WHERE status = 'loaded'").fetchone()[0]
    out = (args.out or home.root / "reports" / board_report_name(latest)).resolve()
    say(f"printing the headlines of {home.site / 'index.html'} to PDF")
    try:
        print(write_board_report(home.site, out))
    except ReportError as error:
        raise UsageError(str(error)) from error
    return EXIT_OK


def threshold_from_environment() -> int | None:
    from pipelines.settings import THRESHOLD_ENV

    return int(os.environ.get(THRESHOLD_ENV) or 0) or None


def cmd_explain(args) -> int:
    from assets import warehouse
    from assets.explain import explain_case, explain_context

    home = AuditHome.resolve(args.home)
    if not home.warehouse.exists():
        raise UsageError(f"there is no warehouse at {home.warehouse}: run `safeguarding-audit run` first.")
    if args.context_key or args.context_id:
        explain = explain_context
        key = args.context_key.strip() if args.context_key else key_of_reference(home, args, "context")
    else:
        explain = explain_case
        key = args.case_key.strip() if args.case_key else key_of_reference(home, args, "case")
    with warehouse.reading(home.warehouse) as con:
        try:
            explanation = explain(con, args.la, args.period, key)
        except LookupError as error:
            raise UsageError(str(error)) from error
    print(explanation.to_text())
    return EXIT_OK


# What `explain --case-id` and `--context-id` look a reference up in: table, column, pseudonym.
REFERENCES = {"case": ("cases", "case_id"), "context": ("contexts", "context_id")}


def key_of_reference(home: AuditHome, args, unit: str) -> str:
    """The case_key (or context_key) of an LA's own case_id (or context_id), for `explain --case-id`
    and `--context-id`: only with the LA's copy of the pack holding it, and the installation's key.
    Nothing is stored, and the reference is never repeated in a message."""
    from assets.audit_plan import references_in_pack
    from assets.reading import PackRejected
    from assets.secret import KEY_ENV, load_secret
    from assets.standardise import case_key, context_key

    table, column = REFERENCES[unit]
    option = f"--{column.replace('_', '-')}"
    if args.pack is None:
        raise UsageError(f"{option} needs --pack: the LA's own copy of the pack that holds the {unit}.")
    if not args.pack.exists():
        raise UsageError(f"the pack {args.pack} does not exist.")
    if not os.environ.get(KEY_ENV) and not home.key_file.exists():
        raise UsageError(f"there is no pseudonymisation key at {home.key_file} (nor in ${KEY_ENV}).")
    try:
        la_code, ids = references_in_pack(args.pack, table, column)
    except PackRejected as error:
        raise UsageError(f"{args.pack}: {error}") from error
    if la_code != args.la:
        raise UsageError(f"the pack {args.pack.name} is {la_code}'s, not {args.la}'s.")
    reference = getattr(args, column).strip()
    if reference not in ids:
        raise UsageError(f"the pack {args.pack.name} has no {unit} with that {column}.")
    pseudonym = case_key if unit == "case" else context_key
    return pseudonym(load_secret(home.key_file), la_code, reference)


def cmd_demo(args) -> int:
    from synth.packs import write_packs

    home = AuditHome.resolve(args.home).prepare()
    say(f"writing synthetic packs for {args.las} LA(s) x {args.quarters} quarter(s) into {home.inbox}")
    packs = write_packs(home.inbox, las=args.las, quarters=args.quarters, seed=args.seed, progress=say)
    from synth.statutory import write_statutory

    la_codes = sorted({p.name.split("_")[0] for p in packs})
    say(f"writing synthetic CIN census and SSDA903 returns into {home.statutory}")
    write_statutory(home.statutory, la_codes, seed=args.seed, progress=say)
    run_pipeline(home, debug=args.debug)
    from pipelines.audit_cli import demo_audit

    home.audits.mkdir(parents=True, exist_ok=True)
    if demo_audit(home, args.seed):
        run_pipeline(home, debug=args.debug)  # loads the returns and works out the findings
    print(home.site / "index.html")
    return EXIT_OK


def cmd_run(args) -> int:
    from assets.reading import discover_packs, open_pack, pack_key

    home = AuditHome.resolve(args.home).prepare()
    inbox = (args.inbox or home.inbox).resolve()
    if not inbox.is_dir():
        raise UsageError(f"the inbox {inbox} does not exist or is not a folder.")
    if args.force != bool(args.la and args.period) or bool(args.la) != bool(args.period):
        raise UsageError("--la, --period and --force go together: `run --la E06000001 --period 2025Q3 --force` "
                         "loads that LA's pack for that quarter again even if it is unchanged.")
    rerun = (args.la, args.period) if args.force else None
    if rerun and not any(open_pack(path, hash_content=False).key == pack_key(*rerun) for path in discover_packs(inbox)):
        raise UsageError(f"the inbox {inbox} holds no pack for {args.la} {args.period} to load again.")
    rejected = run_pipeline(home, inbox, debug=args.debug, rerun=rerun)
    print(home.site / "index.html")
    if rejected:
        print(f"{len(rejected)} pack(s) or statutory return(s) rejected: " + "; ".join(rejected), file=sys.stderr)
        return EXIT_REJECTED
    return EXIT_OK


def run_pipeline(home: AuditHome, inbox: Path | None = None, debug: bool = False,
                 rerun: tuple[str, str] | None = None) -> list[str]:
    """Run the audit job through Dagster over the inbox's packs with work to do; returns the packs
    and statutory returns that stand rejected. Each pack is a partition; one run covers those with
    work to do. Earlier runs of this command whose process was killed are marked failed first, and
    reported."""
    import dagster as dg

    from assets import warehouse
    from assets.ingest import inbox_state
    from assets.statutory import rejected_returns
    from pipelines.run import ended_run_notice, execute_audit, fail_runs_of_ended_processes, was_interrupted

    inbox = inbox or home.inbox
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    # Two commands starting together on a new home would both create the instance's storage, and
    # would both mark the same dead run failed.
    with warehouse.locked(home.dagster_home / "instance", wait_message=say):
        instance = dg.DagsterInstance.get()
        try:
            for record in fail_runs_of_ended_processes(instance):
                say(ended_run_notice(record))
        except BaseException:
            instance.dispose()
            raise
    try:
        result = execute_audit(instance, home.root, inbox, progress=say, debug=debug, rerun=rerun)
    finally:
        instance.dispose()
    if was_interrupted(result):
        raise KeyboardInterrupt
    if not result.success:
        raise RuntimeError(f"the pipeline run {result.run_id[:8]} failed: {failure_message(result)}")
    say(f"Dagster run {result.run_id[:8]} succeeded")
    with warehouse.reading(home.warehouse) as con:
        return inbox_state(con, inbox).rejected + rejected_returns(con, home.statutory)


def failure_message(result) -> str:
    """In plain words: the first failed check's name, or else the step that failed and the error
    that made it fail (Dagster wraps it; its own wrapper says nothing a user can act on)."""
    for event in result.all_events:
        if (event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed
                and event.event_specific_data.severity.value == "ERROR"):  # a warning stops nothing
            return f"the check {event.event_specific_data.check_name} on " \
                   f"{event.event_specific_data.asset_key.to_user_string()} failed"
    for event in result.all_events:
        if event.is_step_failure and getattr(event.event_specific_data, "error", None):
            error = event.event_specific_data.error
            while error.cause is not None:
                error = error.cause
            return f"the step {event.step_key} failed: {error.message.strip()}"
    return "see the run's log in the Dagster UI"


if __name__ == "__main__":
    sys.exit(main())
