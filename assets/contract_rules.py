"""The kinds of rule a contract column can carry (config/rule_kinds.yaml), each defined once and
read from here by everything that needs it: standardisation (the DuckDB condition that quarantines
a row), the Great Expectations suites (checks/expectations.py), the docs and the Excel template (the
plain-English rule), the quarantine messages, and the synthetic faults (how to plant a broken row).

A column's rules are the kinds whose `when` its spec meets (config/contract.yaml)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache

from assets.config import action_targets, contract, load_yaml

SQL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class RuleKindError(ValueError):
    """A rule kind, or a contract column using it, is wrong; the message names it."""


@dataclass(frozen=True)
class RuleKind:
    name: str  # the registry key
    rule: str  # the rule recorded in quarantine (several kinds may share one, e.g. vocabulary)
    has: tuple[str, ...]
    has_any: tuple[str, ...]
    types: tuple[str, ...]
    param: str | None
    condition: str
    expectations: tuple[dict, ...]
    describe: str | tuple[dict, ...]
    message: str
    fix: str
    plant: dict

    def applies(self, spec: dict) -> bool:
        return (all(spec.get(key) not in (None, False) for key in self.has)
                and (not self.has_any or any(key in spec for key in self.has_any))
                and (not self.types or spec["type"] in self.types))


@cache
def rule_kinds() -> tuple[RuleKind, ...]:
    """Every kind, in the order of config/rule_kinds.yaml."""
    return tuple(parse_kind(name, entry) for name, entry in load_yaml("rule_kinds.yaml")["kinds"].items())


def parse_kind(name: str, entry: dict) -> RuleKind:
    missing = [k for k in ("when", "condition", "message", "fix", "plant") if k not in entry]
    if missing:
        raise RuleKindError(f"config/rule_kinds.yaml: kind {name}: missing {', '.join(missing)}")
    when = entry["when"] or {}
    describe = entry.get("describe") or ""
    return RuleKind(
        name=name, rule=entry.get("rule", name), has=tuple(when.get("has", ())),
        has_any=tuple(when.get("has_any", ())), types=tuple(when.get("types", ())), param=entry.get("param"),
        condition=" ".join(str(entry["condition"]).split()), expectations=tuple(entry.get("expectations") or ()),
        describe=describe if isinstance(describe, str) else tuple(describe),
        message=entry["message"], fix=entry["fix"], plant=dict(entry["plant"]))


@dataclass(frozen=True)
class ColumnRule:
    """One kind of rule on one contract column, with its templates filled in."""

    kind: RuleKind
    table: str
    column: str
    spec: dict

    @property
    def rule(self) -> str:
        return self.kind.rule

    def condition(self) -> str:
        """The DuckDB condition over the parsed row `p`, true where the row breaks the rule."""
        return fill(self.kind.condition, self.values(sql=True))

    def expectations(self) -> list[tuple[str, dict]]:
        """(GX expectation class name, its arguments) for the loaded rows."""
        values = self.values(sql=False)
        out = []
        for item in self.kind.expectations:
            arguments = {key: fill_value(value, values) for key, value in item.items() if key != "type"}
            out.append((item["type"], arguments))
        return out

    def describe(self) -> str:
        text = self.kind.describe
        if not isinstance(text, str):
            text = next((option["text"] for option in text if all(k in self.spec for k in option.get("has", ()))), "")
        return fill(text, self.values(sql=False))

    def message(self) -> str:
        return " ".join(self.message_parts())

    def message_parts(self, column_as: str | None = None) -> tuple[str, str]:
        """The message and the fix, filled in for this column (or with `column_as` for its name)."""
        values = self.values(sql=False)
        if column_as:
            values["column"] = column_as
        return fill(self.kind.message, values), fill(self.kind.fix, values)

    def values(self, sql: bool) -> dict:
        """What the templates may use (see config/rule_kinds.yaml)."""
        spec = self.spec
        values = {"table": self.table, "column": self.column, "x": f"p.x_{self.column}", "v": f"p.{self.column}",
                  "values": code_values(spec) if spec["type"] in ("code", "codelist") else []}
        for key, value in spec.items():
            values[f"spec_{key}"] = value
        param = spec.get(self.kind.param) if self.kind.param else None
        if isinstance(param, str):
            values["param"] = sql_name(param, self) if sql and "." not in param else param
            if "." in param:
                values["param_table"], values["param_column"] = (sql_name(part, self) for part in param.split("."))
        elif isinstance(param, dict):
            (key, value), = param.items()
            values["param_key"] = sql_name(key, self) if sql else key
            values["param_value"] = quote(str(value)) if sql else str(value)
        elif param is not None:
            values["param"] = param
        if not sql:
            values.update(plain_words(spec))
        return values


def plain_words(spec: dict) -> dict:
    """The contract's accepted date and yes/no forms, and an example list, as descriptions say them."""
    yes_no = contract()["values"]
    others = [f"{yes}/{no}" for yes, no in zip(yes_no["yes_values"], yes_no["no_values"], strict=True)
              if (yes, no) != ("y", "n")]
    written = [f.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
               for f in contract()["values"]["date_formats"]]
    words = {"date_formats": "an Excel date, or text written " + " or ".join(written),
             "yes_no": "Y or N" + (f" ({', '.join(others)} are also accepted)" if others else "")}
    if spec["type"] == "codelist":
        words["codes_example"] = spec["separator"].join(code_values(spec)[:2])
    return words


def sql_name(name: str, rule: ColumnRule) -> str:
    if not SQL_NAME.match(name):
        raise RuleKindError(f"config/contract.yaml: {rule.table}.{rule.column}: '{name}' (for rule {rule.rule}) "
                            "is not a column or table name")
    return name


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Blanks(dict):
    """Template values where a missing spec value is SQL NULL (a range with no maximum)."""

    def __missing__(self, key):
        return "NULL"


def fill(template: str, values: dict) -> str:
    used = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format_map(Blanks({name: values.get(name, "NULL") for name in used}))


def fill_value(value, values: dict):
    """An expectation argument: a template that is one placeholder keeps the value's own type."""
    if isinstance(value, str):
        whole = re.fullmatch(r"\{([^{}]+)\}", value)
        if whole:
            return values.get(whole[1])
        return fill(value, values)
    return value


def code_values(spec: dict) -> list[str]:
    if "values_from" in spec:
        return sorted(action_targets())
    return [str(v) for v in spec["values"]]


def column_rules(table: str, column: str, spec: dict) -> list[ColumnRule]:
    """The rules on one column, in registry order."""
    return [ColumnRule(kind, table, column, spec) for kind in rule_kinds() if kind.applies(spec)]


def contract_rules() -> list[ColumnRule]:
    """Every rule on every column of the contract."""
    return [rule for table, table_spec in contract()["tables"].items()
            for column, spec in table_spec["columns"].items() for rule in column_rules(table, column, spec)]


@cache
def other_messages() -> dict:
    """Messages of the rules that are not contract rule kinds (config/rules.yaml row_rules)."""
    return load_yaml("rules.yaml")["row_rules"]


def rule_message(rule: str, table: str, column: str) -> str:
    """The message and fix an LA reads for a broken rule on one column (never a value)."""
    spec = contract()["tables"].get(table, {}).get("columns", {}).get(column)
    if spec is not None:
        for item in column_rules(table, column, spec):
            if item.rule == rule:
                return item.message()
    text = other_messages().get(rule)
    if text is None:
        kind = next((k for k in rule_kinds() if k.rule == rule), None)
        if kind is None:
            raise RuleKindError(f"no message for rule {rule}")
        text = {"message": kind.message, "fix": kind.fix}
    values = {"table": table, "column": column}
    return fill(text["message"], values) + " " + fill(text["fix"], values)


def all_rules() -> dict[str, tuple[str, str]]:
    """Every row rule with its message and fix as templates (for the docs)."""
    rules = {}
    for kind in rule_kinds():
        rules.setdefault(kind.rule, (kind.message, kind.fix))
    for rule, text in other_messages().items():
        rules.setdefault(rule, (text["message"], text["fix"]))
    return rules
