"""User-editable configuration (the contract, the indicator framework, the LA list), read from
`config/`. Everything a partnership may change lives there as data, not in code."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CONFIG_DIR = Path(os.environ.get("SAFEGUARDING_AUDIT_CONFIG", Path(__file__).resolve().parents[1] / "config"))


def load_yaml(name: str) -> dict:
    with open(CONFIG_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@cache
def contract() -> dict:
    """The export pack contract (config/contract.yaml)."""
    return load_yaml("contract.yaml")


@cache
def limits() -> dict:
    """Limits on what an inbox file may hold (config/limits.yaml)."""
    return load_yaml("limits.yaml")


@cache
def action_targets() -> dict[str, str]:
    """action_type -> target (child, parent, offender, context)."""
    return {
        action_type: target
        for target, action_types in contract()["action_targets"].items()
        for action_type in action_types
    }


@dataclass(frozen=True)
class LocalAuthority:
    code: str
    name: str
    country: str
    region_code: str
    region_name: str


@cache
def local_authorities() -> dict[str, LocalAuthority]:
    """The official LA list: the 153 English authorities of the DfE tables plus Welsh W06 codes."""
    with open(CONFIG_DIR / "la_codes.csv", encoding="utf-8", newline="") as handle:
        return {
            row["la_code"]: LocalAuthority(
                row["la_code"], row["la_name"], row["country"], row["region_code"], row["region_name"]
            )
            for row in csv.DictReader(handle)
        }
