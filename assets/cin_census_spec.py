"""The CIN census spec (config/statutory/cin_census.yaml) compiled for the reader: its sections,
code lists and formats, the LEA numbers of config/la_codes.csv, which file names may be stored,
and the small XML helpers the reader walks elements with."""

from __future__ import annotations

import csv
import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache

from assets.config import CONFIG_DIR, load_yaml

SPEC_FILE = "statutory/cin_census.yaml"


@cache
def spec() -> dict:
    """The CIN census spec (config/statutory/cin_census.yaml)."""
    return load_yaml(SPEC_FILE)


@cache
def file_name_words() -> re.Pattern:
    return re.compile("|".join(f"(?:{word})" for word in spec()["file_name_words"]), re.I)


def is_plain_file_name(name: str) -> bool:
    """Whether a CIN file's name is made only of words that describe a return (config: file_name_words)."""
    words = [w for w in re.split(r"[_\-. ]+", name) if w]
    return bool(words) and len(name) <= 80 and all(file_name_words().fullmatch(w) for w in words)


@cache
def lea_codes() -> dict[str, str]:
    """3-digit old LA number (the header's LEA) -> 9-character GSS la_code, from config/la_codes.csv."""
    with open(CONFIG_DIR / "la_codes.csv", encoding="utf-8", newline="") as handle:
        return {row["old_la_code"].strip().zfill(3): row["la_code"]
                for row in csv.DictReader(handle) if (row.get("old_la_code") or "").strip()}



@dataclass(frozen=True)
class Section:
    name: str
    block: str
    table: str | None
    used: bool
    key: str | None
    elements: dict
    sub_blocks: frozenset = field(default_factory=frozenset)
    blocks_required: tuple = ()


@cache
def sections() -> dict[str, Section]:
    """Sections by block element name."""
    raw = spec()["sections"]
    subs: dict[str, set] = {}
    for section in raw.values():
        subs.setdefault(section["parent"], set()).add(section["block"])
    return {
        section["block"]: Section(
            name=name, block=section["block"], table=section.get("table"),
            used=section.get("use") != "not_used", key=section.get("key"),
            elements=section.get("elements") or {}, sub_blocks=frozenset(subs.get(section["block"], ())),
            blocks_required=tuple(section.get("blocks_required", ())))
        for name, section in raw.items()
    }


@cache
def code_lookup(block: str, element: str) -> dict[str, str]:
    """Accepted codes of one element, lower-cased -> value to output (the code, or its `map` value)."""
    element_spec = sections()[block].elements[element]
    if "map" in element_spec:
        return {str(code).lower(): str(value) for code, value in element_spec["map"].items()}
    return {str(code).lower(): str(code) for code in element_spec["codes"]}


@cache
def yes_no() -> dict[str, bool]:
    return {str(text).lower(): bool(value) for text, value in spec()["formats"]["yes_no"].items()}


@cache
def date_pattern() -> re.Pattern:
    return re.compile(spec()["formats"]["date"])


def local_name(tag) -> str:
    """An element's name without any namespace."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def child_element(elem: ET.Element, name: str) -> ET.Element | None:
    return next((sub for sub in elem if local_name(sub.tag) == name), None)


def find_element(elem: ET.Element | None, path: str) -> ET.Element | None:
    for name in path.split("/"):
        if elem is None:
            return None
        elem = child_element(elem, name)
    return elem


def element_text(elem: ET.Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def parse_date(text: str) -> dt.date | None:
    if not date_pattern().match(text):
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def in_layout(element_spec: dict, year: int) -> bool:
    return element_spec.get("from", year) <= year <= element_spec.get("until", year)


def whole_years(born: dt.date, on: dt.date) -> int:
    """Age in whole years on a date (a birthday on that day counts)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
