"""Statutory returns: the CIN census (XML) and SSDA903 missing episodes, loaded next to the audit
packs and scored with the statutory indicators (config/statutory_indicators.yaml) by the same
engine as the audit framework.

Files arrive in the statutory inbox (`<home>/statutory/` by default): CIN census XML files
(any name; the LA and year come from the header) and SSDA903 folders `<LA code>_<YYYY>_ssda903/`.
Each return is keyed by kind, LA and year and by its content hash: the same file again changes
nothing; a new version replaces the old one in one transaction; a rejected one stores only why.
A return that cannot be read, for whatever reason, is rejected on its own: the other returns and
the rest of the run go on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from assets.config import load_yaml
from assets.reading import PackRejected, content_sha256, stored_name
from assets.scoring import (
    Framework,
    case_base_sql,
    indicator_sql,
    parse_framework,
    pooled_rates,
    without_external_access,
)
from assets.statutory_rejections import unreadable
from assets.warehouse import now, transaction

CIN_TABLES = ("cin_children", "cin_episodes", "cin_assessments", "cin_section47", "cin_cp_plans")
# Quarantine rows of a return are filed under its tables, and CIN header problems under cin_header.
QUARANTINE_TABLES = {"cin_census": (*CIN_TABLES, "cin_header"), "ssda903": ("ssda903_missing", "ssda903_children")}
SSDA903_TABLES = ("ssda903_missing", "ssda903_children")


@cache
def statutory_framework() -> Framework:
    return parse_framework(load_yaml("statutory_indicators.yaml"))


@dataclass
class StatutoryOutcome:
    source: str
    kind: str
    la_code: str | None
    period: str | None
    status: str  # loaded | rejected | unchanged
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""


def discover_returns(folder: Path) -> list[tuple[str, Path]]:
    """(kind, path) of every return in the statutory inbox, in name order."""
    if not folder.exists():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() and (entry.suffix.lower() == ".xml" or entry.name.lower().endswith("_ssda903")):
            found.append(("cin_census" if entry.suffix.lower() == ".xml" else "ssda903", entry))
        elif entry.name.startswith("."):
            continue
        elif entry.is_file() and entry.suffix.lower() == ".xml":
            found.append(("cin_census", entry))
        elif entry.is_dir() and entry.name.lower().endswith("_ssda903"):
            found.append(("ssda903", entry))
    return found


@dataclass
class ReturnRead:
    """One return as read, before it is loaded."""

    la_code: str
    period: str
    tables: dict[str, pd.DataFrame]  # warehouse table -> the rows that would load
    quarantine: pd.DataFrame
    rows_in: int  # children (CIN) or missing.csv rows (SSDA903) received
    rows_read: dict[str, int]  # warehouse table -> rows read for it, loaded or not


def read_return(kind: str, path: Path, secret: bytes, name: str | None = None) -> ReturnRead:
    """Read one return. Raises PackRejected when it cannot be used; any other error is the reader's
    to explain (see `unreadable`)."""
    if kind == "cin_census":
        from assets.cin_census import read_cin_census

        cin = read_cin_census(path, secret, name=name or return_name(path))
        period = str(cin.collection_year)
        tables = {
            "cin_children": cin.children, "cin_episodes": with_previous_referral(cin.episodes),
            "cin_assessments": cin.assessments, "cin_section47": cin.section47, "cin_cp_plans": cin.cp_plans,
        }
        tables = {name: as_period(frame, period) for name, frame in tables.items()}
        return ReturnRead(cin.la_code, period, tables, cin.quarantine, cin.rows_read["cin_children"],
                          dict(cin.rows_read))
    from assets.ssda903 import read_missing_return

    missing = read_missing_return(path, secret)
    period = str(missing.year)
    tables = {"ssda903_missing": as_period(missing.episodes, period),
              "ssda903_children": as_period(missing.children_in_care, period)}
    return ReturnRead(missing.la_code, period, tables, missing.quarantine, missing.rows_in,
                      {"ssda903_missing": missing.rows_in, "ssda903_children": len(missing.children_in_care)})


def read_or_reject(kind: str, path: Path, secret: bytes, name: str | None = None) -> ReturnRead:
    """`read_return`, with any error the readers did not foresee made the return's `unreadable`
    rejection, so that one odd file cannot stop the run (or `validate`) for every other."""
    try:
        return read_return(kind, path, secret, name)
    except PackRejected:
        raise
    except Exception as error:
        # from None: the error's own text, which can quote the file, goes nowhere.
        raise unreadable(name or return_name(path), error) from None


def as_period(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    """The readers' year columns become `period`, the collection year as text."""
    frame = frame.drop(columns=[c for c in ("collection_year", "year") if c in frame.columns]).copy()
    frame.insert(1, "period", period)
    return frame


def with_previous_referral(episodes: pd.DataFrame) -> pd.DataFrame:
    """Days from each referral to the same child's previous referral in the return (re-referrals)."""
    episodes = episodes.copy()
    if episodes.empty:
        episodes["days_since_previous_referral"] = pd.Series(dtype="Int64")
        return episodes
    dates = pd.to_datetime(episodes["referral_date"])
    previous = dates.sort_values().groupby(episodes["child_key"]).shift(1).reindex(episodes.index)
    episodes["days_since_previous_referral"] = (dates - previous).dt.days.astype("Int64")
    return episodes


def ingest_statutory(con: duckdb.DuckDBPyConnection, folder: Path, secret: bytes,
                     progress: Callable[[str], None] = lambda _: None) -> list[StatutoryOutcome]:
    outcomes = []
    returns = discover_returns(folder)
    if returns:
        progress(f"{len(returns)} statutory return(s) in {folder}")
    for kind, path in returns:
        name = return_name(path)
        try:
            sha = content_sha256(path)
        except OSError:
            sha = ""
        seen = con.execute("SELECT status FROM statutory_submissions WHERE source = ? AND content_sha256 = ?",
                           [name, sha]).fetchone()
        if seen and sha:
            outcomes.append(StatutoryOutcome(name, kind, None, None, "unchanged"))
            continue
        try:
            if path.is_symlink():
                raise PackRejected("link", f"{name}: the entry is a link. Links are not followed: copy the return "
                                   "itself into the statutory inbox.")
            if not sha:
                raise PackRejected("unreadable", f"{name} could not be read (check that the pipeline's user may "
                                   "read it).")
            read = read_or_reject(kind, path, secret, name)
        except PackRejected as error:
            record(con, kind, None, None, name, sha, "rejected", 0, 0, error.message, error.rule)
            outcomes.append(StatutoryOutcome(name, kind, None, None, "rejected", message=error.message))
            progress(f"{name}: REJECTED ({error.rule}) {error.message}")
            continue
        load_return(con, kind, read.la_code, read.period, name, sha, read.tables, read.quarantine)
        loaded = sum(len(f) for f in read.tables.values())
        outcomes.append(StatutoryOutcome(name, kind, read.la_code, read.period, "loaded", loaded,
                                         len(read.quarantine)))
        progress(f"{name}: {kind} {read.la_code} {read.period}, {read.rows_in} row(s) read, "
                 f"{len(read.quarantine)} problem(s) quarantined")
    return outcomes


def return_name(path: Path) -> str:
    """How a return is stored and shown: its name when that cannot identify anyone (a CIN file may
    have any name), otherwise 'unnamed file' or 'unnamed folder' with its inode number."""
    from assets.cin_census_spec import is_plain_file_name
    from assets.ssda903 import FOLDER_NAME

    if path.suffix.lower() == ".xml":
        return stored_name(path, is_plain_file_name)
    return stored_name(path, lambda name: bool(FOLDER_NAME.match(name)))


def rejected_returns(con: duckdb.DuckDBPyConnection, folder: Path) -> list[str]:
    """The returns in the statutory inbox whose present content stands rejected (by name and content
    hash), so that a run can say so. A rejected file that is later fixed or removed no longer counts."""
    rejected = []
    for _kind, path in discover_returns(folder):
        name = return_name(path)
        try:
            sha = content_sha256(path)
        except OSError:
            sha = ""
        status = con.execute("SELECT status FROM statutory_submissions WHERE source = ? AND content_sha256 = ? "
                             "ORDER BY received_at DESC LIMIT 1", [name, sha]).fetchone()
        if status and status[0] == "rejected":
            rejected.append(name)
    return rejected


def load_return(con, kind: str, la_code: str, period: str, source: str, sha: str,
                tables: dict[str, pd.DataFrame], quarantine: pd.DataFrame) -> None:
    """Replace everything held for this kind of return, LA and year, all or nothing."""
    names = CIN_TABLES if kind == "cin_census" else SSDA903_TABLES
    with transaction(con):
        for table in names:
            con.execute(f"DELETE FROM {table} WHERE la_code = ? AND period = ?", [la_code, period])
        filed = QUARANTINE_TABLES[kind]
        con.execute("DELETE FROM statutory_quarantine WHERE la_code = ? AND period = ? AND table_name IN "
                    f"({', '.join('?' for _ in filed)})", [la_code, period, *filed])
        con.execute("DELETE FROM statutory_submissions WHERE kind = ? AND la_code = ? AND period = ? "
                    "AND status = 'loaded'", [kind, la_code, period])
        for table, frame in [*tables.items(), ("statutory_quarantine", quarantine)]:
            if len(frame):
                con.register("incoming", frame)
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                con.unregister("incoming")
        loaded = sum(len(frame) for frame in tables.values())
        record(con, kind, la_code, period, source, sha, "loaded", loaded, len(quarantine),
               f"{loaded} row(s) loaded, {len(quarantine)} quarantined", None)


def record(con, kind, la_code, period, source, sha, status, loaded, quarantined, message, rule) -> None:
    con.execute("INSERT INTO statutory_submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [kind, la_code, period, source, sha, now(), status, loaded, quarantined, message, rule])


def score_statutory(con: duckdb.DuckDBPyConnection, fw: Framework | None = None) -> int:
    """Score every child of every CIN census year; returns the rows of statutory_child_indicators."""
    fw = fw or statutory_framework()
    without_external_access(con)  # the framework's rules run here
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TEMP TABLE case_base AS {case_base_sql(fw)}", [None])
        con.execute("DELETE FROM statutory_child_indicators")
        con.execute("INSERT INTO statutory_child_indicators "
                    + " UNION ALL ".join(indicator_sql(i, fw.unit) for i in fw.indicators))
        rates = pooled_rates(con, ["la_code", "period", "indicator_id"], table="statutory_child_indicators")
        means = con.execute("""SELECT la_code, period, indicator_id, avg(value) FILTER (WHERE applicable) AS mean_value
                               FROM statutory_child_indicators GROUP BY ALL""").df()
        rates = rates.merge(means, on=["la_code", "period", "indicator_id"], how="left")
        con.execute("DELETE FROM statutory_rates")
        con.register("new_rates", rates)
        con.execute("INSERT INTO statutory_rates BY NAME SELECT * FROM new_rates")
        con.unregister("new_rates")
    return con.execute("SELECT count(*) FROM statutory_child_indicators").fetchone()[0]
