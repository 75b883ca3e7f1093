"""Mapping profiles: YAML files that turn one case system's export into the export pack contract.

An LA whose case system exports its own column names, codes, list separators or date formats does
not have to rebuild its export: a profile (one YAML file in `config/profiles/`, described in
docs/mapping-profiles.md) says how to rename its columns, recode its values and rewrite its dates.
`apply_profile` runs on the pack's text tables before any check, so the contract's rules then judge
the mapped values exactly as they would judge a pack written in the contract's own terms: a value a
profile does not cover is left as it is and quarantined by those rules, never guessed.

A profile is data, read as text only (`Yes`, `No`, `01` and `1.0` stay exactly as written), and is
checked against config/contract.yaml when it is loaded, so a mistake in it is reported once, with the
file and the key at fault, rather than as a flood of quarantined rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from assets.config import CONFIG_DIR, action_targets, contract, local_authorities
from assets.identifiers import identifier_kinds
from assets.reading import PackRejected, RawTable
from assets.table_files import safe_column_label

# Columns a table may carry besides the contract's: assets.standardise checks them against the pack
# name, so a profile may map an LA's own LA-code or period column onto them.
CONTEXT_COLUMNS = ("la_code", "period")

PROFILE_KEYS = ("profile", "description", "la_codes", "tables", "columns", "values", "list_separators",
                "date_formats", "drop_columns")
PROFILE_SUFFIXES = (".yaml", ".yml")
LA_CODE = re.compile(r"^[EW]\d{8}$")
INTEGER = re.compile(r"^-?\d+$")
ISO_DATE = "%Y-%m-%d"
# A day above 12 in a month other than January: a date format that reads it back unchanged gives
# the day, the month and the year.
FORMAT_PROBE_DATE = dt.date(2025, 7, 31)


class ProfileError(ValueError):
    """A mapping profile that cannot be used; the message names the file and the key at fault."""

    def __init__(self, path: Path, key: str, problem: str):
        super().__init__(f"mapping profile {path}: {key}: {problem}")
        self.path = path
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Profile:
    """A loaded, checked profile. LA column names and LA values are held trimmed and lower-cased, the
    way they are matched; contract names and values are held in the contract's spelling."""

    name: str
    source: Path
    description: str = ""
    la_codes: tuple[str, ...] = ()
    table_names: dict[str, str] = field(default_factory=dict)  # contract table -> LA file or sheet name
    renames: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> LA column -> contract column
    recodes: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # table -> column -> LA -> contract
    list_separators: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> separator
    date_formats: tuple[str, ...] = ()
    drop_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table -> LA columns


# --- loading and checking ------------------------------------------------------------------------

class ProfileLoader(yaml.BaseLoader):
    """YAML with every scalar read as text, and a key given twice in one mapping refused.

    YAML's usual typing would turn `No` into false, `01` into 1 and `1.0` into 1.0, silently
    changing the values a profile is meant to match; and PyYAML keeps only the last of two equal
    keys, silently losing a mapping line."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping", node.start_mark,
                        f"the key {key_node.value!r} is given twice", key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def load_profile(path: Path) -> Profile:
    """Read and check one profile file. Raises ProfileError naming the file and the key at fault."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(path, "(file)", f"cannot be read as UTF-8 text ({type(error).__name__})") from error
    try:
        document = yaml.load(text, Loader=ProfileLoader)  # safe: BaseLoader builds only str, list and dict
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        problem = getattr(error, "problem", None) or str(error)
        # A constructor error is ProfileLoader's own (a key given twice): the YAML itself is sound.
        prefix = "" if isinstance(error, yaml.constructor.ConstructorError) else "is not valid YAML: "
        raise ProfileError(path, where, prefix + problem) from error
    return ProfileChecker(path).check(document)


class ProfileChecker:
    """Checks a parsed profile document against the contract and builds the Profile."""

    def __init__(self, path: Path):
        self.path = path
        self.tables = contract()["tables"]

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(self.path, key, problem)

    def check(self, document) -> Profile:
        if not isinstance(document, dict):
            raise self.fail("(file)", "must be a YAML mapping with at least the key 'profile'")
        unknown = [key for key in document if key not in PROFILE_KEYS]
        if unknown:
            raise self.fail(unknown[0], f"is not a profile key (the keys are {', '.join(PROFILE_KEYS)})")
        name = document.get("profile")
        if not isinstance(name, str) or not name.strip():
            raise self.fail("profile", "must give the profile's name")
        description = document.get("description", "")
        if not isinstance(description, str):
            raise self.fail("description", "must be text")
        renames = self.renames(self.mapping(document, "columns"))
        return Profile(
            name=name.strip(),
            source=self.path,
            description=description.strip(),
            la_codes=self.la_codes(document.get("la_codes", [])),
            table_names=self.table_names(self.mapping(document, "tables")),
            renames=renames,
            recodes=self.recodes(self.mapping(document, "values")),
            list_separators=self.list_separators(self.mapping(document, "list_separators")),
            date_formats=self.date_formats(document.get("date_formats", [])),
            drop_columns=self.drop_columns(self.mapping(document, "drop_columns"), renames),
        )

    # -- shapes

    def mapping(self, parent: dict, key: str, label: str | None = None) -> dict:
        """parent[key] as a mapping; an absent or empty key is an empty mapping."""
        value = parent.get(key, {})
        if value in ("", None):
            return {}
        if not isinstance(value, dict):
            raise self.fail(label or key, "must be a mapping (key: value lines)")
        return value

    def text_list(self, value, key: str) -> list[str]:
        if value in ("", None):
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(key, "must be a list of texts, for example [a, b]")
        return value

    def text(self, value, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, "must be a single text, not a list or mapping")
        return value

    def table(self, name: str, key: str) -> str:
        table = name.strip().lower()
        if table not in self.tables:
            raise self.fail(key, f"'{name}' is not a contract table (the tables are {', '.join(self.tables)})")
        return table

    def column(self, table: str, name, key: str, context_allowed: bool = False) -> str:
        column = self.text(name, key).strip().lower()
        known = list(self.tables[table]["columns"]) + (list(CONTEXT_COLUMNS) if context_allowed else [])
        if column not in known:
            raise self.fail(key, f"'{name}' is not a column of contract table {table} "
                                 f"(the columns are {', '.join(known)})")
        return column

    # -- keys

    def la_codes(self, value) -> tuple[str, ...]:
        codes = []
        for position, code in enumerate(self.text_list(value, "la_codes")):
            code = code.strip().upper()
            key = f"la_codes[{position}]"
            if not LA_CODE.match(code):
                raise self.fail(key, f"'{code}' is not a 9-character GSS code such as E06000001")
            if code not in local_authorities():
                raise self.fail(key, f"{code} is not an English or Welsh local authority code "
                                     "(see config/la_codes.csv)")
            codes.append(code)
        return tuple(codes)

    def table_names(self, value: dict) -> dict[str, str]:
        names: dict[str, str] = {}
        for table_name, la_name in value.items():
            key = f"tables.{table_name}"
            table = self.table(table_name, key)
            la_name = self.text(la_name, key).strip()
            if not la_name:
                raise self.fail(key, "must give the LA's file or sheet name")
            clash = [t for t, n in names.items() if n.lower() == la_name.lower()]
            if clash:
                raise self.fail(key, f"'{la_name}' is already the name given for table {clash[0]}")
            names[table] = la_name
        return names

    def renames(self, value: dict) -> dict[str, dict[str, str]]:
        renames: dict[str, dict[str, str]] = {}
        for table_name in value:
            table = self.table(table_name, f"columns.{table_name}")
            table_renames: dict[str, str] = {}
            for la_column, target in self.mapping(value, table_name, f"columns.{table_name}").items():
                key = f"columns.{table_name}.{la_column}"
                source = la_column.strip().lower()
                if not source:
                    raise self.fail(key, "the LA column name is blank")
                if source in table_renames:
                    raise self.fail(key, "this LA column is given twice (names are matched ignoring case)")
                self.refuse_identifier_column(la_column, key, "renamed")
                contract_column = self.column(table, target, key, context_allowed=True)
                taken = [s for s, t in table_renames.items() if t == contract_column]
                if taken:
                    raise self.fail(key, f"LA column '{taken[0]}' is already mapped to {contract_column}")
                table_renames[source] = contract_column
            renames[table] = table_renames
        return renames

    def recodes(self, value: dict) -> dict[str, dict[str, dict[str, str]]]:
        recodes: dict[str, dict[str, dict[str, str]]] = {}
        for table_name in value:
            table = self.table(table_name, f"values.{table_name}")
            table_recodes: dict[str, dict[str, str]] = {}
            for column_name in self.mapping(value, table_name, f"values.{table_name}"):
                column_key = f"values.{table_name}.{column_name}"
                column = self.column(table, column_name, column_key)
                spec = self.tables[table]["columns"][column]
                lookup: dict[str, str] = {}
                for la_value, target in self.mapping(value[table_name], column_name, column_key).items():
                    key = f"{column_key}.{la_value}"
                    source = la_value.strip().lower()
                    if source in lookup:
                        raise self.fail(key, "this LA value is given twice (values are matched ignoring case)")
                    lookup[source] = self.contract_value(spec, self.text(target, key), key)
                table_recodes[column] = lookup
            recodes[table] = table_recodes
        return recodes

    def contract_value(self, spec: dict, target: str, key: str) -> str:
        """A recode target in the contract's spelling; blank stands for a missing value."""
        target = target.strip()
        if not target:
            return ""
        kind = spec["type"]
        if kind in ("code", "codelist"):
            vocabulary = {v.lower(): v for v in vocabulary_of(spec)}
            separator = spec.get("separator", ";")
            elements = [e.strip() for e in target.split(separator)] if kind == "codelist" else [target]
            unknown = [e for e in elements if e.lower() not in vocabulary]
            if unknown:
                raise self.fail(key, f"'{unknown[0]}' is not one of the contract's codes "
                                     f"({', '.join(vocabulary.values())})")
            return separator.join(vocabulary[e.lower()] for e in elements)
        if kind == "yn":
            values = contract()["values"]
            if target.lower() in values["yes_values"]:
                return "Y"
            if target.lower() in values["no_values"]:
                return "N"
            raise self.fail(key, f"'{target}' is not a yes/no value (write Y or N)")
        if kind == "integer" and not INTEGER.match(target):
            raise self.fail(key, f"'{target}' is not a whole number")
        if kind == "date" and not parses_as_contract_date(target):
            raise self.fail(key, f"'{target}' is not a date written YYYY-MM-DD or DD/MM/YYYY")
        return target

    def list_separators(self, value: dict) -> dict[str, dict[str, str]]:
        separators: dict[str, dict[str, str]] = {}
        for table_name in value:
            table = self.table(table_name, f"list_separators.{table_name}")
            table_separators = {}
            for column_name, separator in self.mapping(value, table_name, f"list_separators.{table_name}").items():
                key = f"list_separators.{table_name}.{column_name}"
                column = self.column(table, column_name, key)
                if self.tables[table]["columns"][column]["type"] != "codelist":
                    raise self.fail(key, f"{column} is not a list column, so it has no separator")
                if not self.text(separator, key):
                    raise self.fail(key, "the separator is blank")
                table_separators[column] = separator
            separators[table] = table_separators
        return separators

    def date_formats(self, value) -> tuple[str, ...]:
        formats = []
        for position, date_format in enumerate(self.text_list(value, "date_formats")):
            if not reads_back(date_format):
                raise self.fail(f"date_formats[{position}]", f"'{date_format}' does not give a whole date "
                                "(it needs a day, a month and a year, for example %d.%m.%Y)")
            formats.append(date_format)
        return tuple(formats)

    def drop_columns(self, value: dict, renames: dict[str, dict[str, str]]) -> dict[str, tuple[str, ...]]:
        drops: dict[str, tuple[str, ...]] = {}
        for table_name, columns in value.items():
            table = self.table(table_name, f"drop_columns.{table_name}")
            names = []
            for position, la_column in enumerate(self.text_list(columns, f"drop_columns.{table_name}")):
                key = f"drop_columns.{table_name}[{position}]"
                source = la_column.strip().lower()
                if source in renames.get(table, {}):
                    raise self.fail(key, f"'{la_column}' is also mapped to a contract column under columns")
                self.refuse_identifier_column(la_column, key, "dropped")
                names.append(source)
            drops[table] = tuple(names)
        return drops

    def refuse_identifier_column(self, la_column: str, key: str, action: str) -> None:
        """A column whose name marks it as a direct identifier must reject the pack (the contract's
        privacy rule); a profile that renamed or dropped it would hide it from that check."""
        for kind in identifier_kinds():
            if kind.column_pattern and kind.column_pattern.search(la_column.strip().lower()):
                raise self.fail(key, f"'{la_column}' looks like a column of {kind.label}; it cannot be {action} "
                                     "by a profile, because a pack that carries it must be rejected. The LA "
                                     "must leave it out of the export.")


def vocabulary_of(spec: dict) -> list[str]:
    """A code or list column's accepted codes, in the contract's spelling."""
    if "values_from" in spec:
        return list(action_targets())
    return [str(v) for v in spec["values"]]


def parses_as_contract_date(text: str) -> bool:
    for date_format in contract()["values"]["date_formats"]:
        try:
            dt.datetime.strptime(text, date_format)
            return True
        except ValueError:
            continue
    return False


def reads_back(date_format: str) -> bool:
    """The format, as pandas applies it, reads a date it wrote back as the same date."""
    try:
        written = FORMAT_PROBE_DATE.strftime(date_format)
        parsed = pd.to_datetime(pd.Series([written], dtype=str), format=date_format, errors="coerce")
    except ValueError:
        return False
    return not parsed.isna().iloc[0] and parsed.iloc[0].date() == FORMAT_PROBE_DATE


# --- choosing ------------------------------------------------------------------------------------

def profiles_for(la_code: str, folder: Path | None = None) -> list[Profile]:
    """The profiles in the folder (default config/profiles/) whose la_codes include the LA's code.

    Every profile in the folder is loaded and checked, so a broken one is reported even when it is
    for another LA: it would otherwise fail only when that LA's pack arrives."""
    folder = CONFIG_DIR / "profiles" if folder is None else Path(folder)
    if not folder.is_dir():
        return []
    code = la_code.strip().upper()
    files = tuple((path, path.stat().st_mtime_ns) for path in sorted(folder.iterdir())
                  if path.suffix.lower() in PROFILE_SUFFIXES and not path.name.startswith("."))
    return [profile for profile in loaded_profiles(files) if code in profile.la_codes]


@functools.lru_cache(maxsize=8)
def loaded_profiles(files: tuple[tuple[Path, int], ...]) -> tuple[Profile, ...]:
    """Profiles read once per set of files and modification times: a run over many packs does not
    parse them again for each pack, and an edited profile is read afresh."""
    return tuple(load_profile(path) for path, _ in files)


def table_file_names(profile: Profile) -> dict[str, str]:
    """Contract table -> the name of the LA's file (without suffix) or sheet holding it; the
    contract's own name where the profile gives none."""
    return {table: profile.table_names.get(table, table) for table in contract()["tables"]}


# --- applying ------------------------------------------------------------------------------------

DROPPED = "(dropped) "  # how a column the profile drops is named while it is still scanned


def apply_profile(tables: dict[str, RawTable], profile: Profile, keep_dropped: bool = False) -> dict[str, RawTable]:
    """New RawTables in the contract's terms: dropped columns removed, columns renamed, values
    recoded, list separators replaced and dates in the profile's formats rewritten as ISO dates.
    With `keep_dropped`, dropped columns stay, renamed "(dropped) <name>", so that the identifier
    scan still sees them (they are outside the contract, so never stored).

    Raises PackRejected(duplicate_column) when renaming would give a table the same column twice."""
    return {name: apply_to_table(raw, profile, keep_dropped) for name, raw in tables.items()}


def apply_to_table(raw: RawTable, profile: Profile, keep_dropped: bool = False) -> RawTable:
    table = raw.name
    frame = raw.frame.copy()
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    drops = set(profile.drop_columns.get(table, ()))
    if keep_dropped:
        frame.columns = [DROPPED + column if column in drops else column for column in frame.columns]
    else:
        frame = frame.loc[:, [column not in drops for column in frame.columns]]

    renames = profile.renames.get(table, {})
    new_names = [renames.get(column, column) for column in frame.columns]
    for position, name in enumerate(new_names):
        if name in new_names[:position]:
            first = safe_column_label(frame.columns[new_names.index(name)], new_names.index(name) + 1)
            second = safe_column_label(frame.columns[position], position + 1)
            raise PackRejected(
                "duplicate_column",
                f"{raw.source_file}: columns {first} and {second} would both become "
                f"'{name}' under mapping profile {profile.name}. Remove one of them from the export, or "
                "correct the profile.", table, name)
    frame.columns = new_names

    specs = contract()["tables"].get(table, {}).get("columns", {})
    recodes = profile.recodes.get(table, {})
    separators = profile.list_separators.get(table, {})
    for column, spec in specs.items():
        if column not in frame.columns:
            continue
        if spec["type"] == "codelist":
            if column in recodes or column in separators:
                frame[column] = recode_list(frame[column], separators.get(column, spec["separator"]),
                                            recodes.get(column, {}), spec["separator"])
        elif column in recodes:
            frame[column] = recode(frame[column], recodes[column])
        if spec["type"] == "date" and profile.date_formats:
            frame[column] = rewrite_dates(frame[column], profile.date_formats)
    return RawTable(raw.name, raw.source_file, frame)


def recode(values: pd.Series, lookup: dict[str, str]) -> pd.Series:
    """Each value found in the lookup (trimmed, ignoring case) replaced; the rest left as they are."""
    if not lookup:
        return values
    mapped = values.str.strip().str.lower().map(lookup)
    return values.where(mapped.isna(), mapped)


def recode_list(values: pd.Series, separator: str, lookup: dict[str, str], joiner: str) -> pd.Series:
    """Split on the LA's separator, recode each element, join with the contract's separator.

    The split is into one column per position, so each position is recoded for the whole table at
    once; blank elements (doubled or trailing separators, or codes recoded to blank) are dropped."""
    if values.empty:
        return values
    parts = values.fillna("").str.split(separator, regex=False, expand=True)
    joined = pd.Series("", index=values.index, dtype=str)
    for position in parts.columns:
        element = recode(parts[position].fillna("").str.strip(), lookup)
        joined = joined + element.where(element == "", joiner + element)
    return joined.str.removeprefix(joiner)


def rewrite_dates(values: pd.Series, date_formats: tuple[str, ...]) -> pd.Series:
    """Values that parse in one of the formats (tried in order) rewritten as ISO YYYY-MM-DD; others
    left as they are, for the contract's own formats to read or its rules to quarantine."""
    text = values.str.strip()
    iso = None
    for date_format in date_formats:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce").dt.strftime(ISO_DATE)
        iso = parsed if iso is None else iso.fillna(parsed)
    return values.where(iso.isna(), iso)
