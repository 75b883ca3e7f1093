"""Children in Need (CIN) census return: the DfE's XML file, read as a stream into five tables.

`read_cin_census(path, secret)` reads one LA's CIN census XML as a stream: the file is fed in
chunks to an `xml.etree.ElementTree.XMLParser` whose target builds one `Child` at a time, hands it
to the reader and lets it go, so memory does not grow with the number of children in the file (only
the output tables do). Nor can one child, or one element, take more than the limits of
config/limits.yaml (section statutory) allow: the file's size, the depth of nesting, the text in one
element, the attributes of one element and the elements in one Child are checked as the file is
parsed, and a file over any of them is refused, naming the limit. The parser's target and the
typed frames are in assets/cin_census_stream.py.

Which elements are read, their code lists, which are required, and how the layout changed between
collection years (GenderCurrent up to the 2024 census, Sex from the 2025 census, a
PreProceedingsandFGDM block later) are data, in config/statutory/cin_census.yaml; this module is
generic over that spec.

The collection year is the year of the header's ReferenceDate (the census year ends 31 March),
as the DfE names censuses and as the benchmark tables count years.

What is kept, degraded and dropped (the YAML marks every element with its `use`):
- kept: the header's LEA (as the 9-character GSS la_code) and ReferenceDate; ethnicity; dates of
  referral, closure, assessment start and authorisation, child protection plan start and end,
  section 47 enquiry start, initial child protection conference target and date, and whether a
  conference was not required (ICPCnotRequired); referral source, primary need, reason for
  closure, ReferralNFA, assessment factor codes and categories of abuse, as the codes of the
  census code lists (never as free text from the file);
- normalised: GenderCurrent (1/2/0/9) or Sex (M/F/U) becomes sex: male, female, unknown,
  indeterminate;
- pseudonymised: LAchildID becomes child_key, the keyed HMAC of "<la_code>:<LAchildID>" that
  `assets.standardise.case_key` makes (so the same child links across datasets of one LA);
- degraded: PersonBirthDate becomes age in whole years at ReferenceDate (NULL when unknown or
  unborn); the disability codes become disabled (true or false);
- dropped, never copied into any table or message: UPN, FormerUPN, UPNunknown, LAchildID itself,
  PersonBirthDate, ExpectedPersonBirthDate and PersonDeathDate;
- read but not used (accepted, not reported as unknown, neither checked nor output): CIN plan
  dates, the episode's own DateOfInitialCPC (the conference date of the Section47 block is used),
  AssessmentInternalReviewDate, the number of previous plans, plan reviews, and the
  PreProceedingsandFGDM block.

Problems are of two kinds.
- The whole file is refused with `PackRejected` when it is not well-formed XML, declares an encoding
  that cannot be read, has a DOCTYPE (which could declare entities: none is ever expanded or
  fetched), is over a limit, is not a CIN census (root element, Collection), names an LEA that is
  not in config/la_codes.csv, has no valid ReferenceDate before its children, or belongs to another
  LA than the one expected.
- Anything else is quarantined, one row per problem: the child's position in the file (row 0 is
  the header), the table (cin_children, cin_episodes, cin_assessments, cin_section47, cin_cp_plans,
  the warehouse tables of the five frames, or cin_header), the XML element and the rule, with a plain-English
  message for the person who fixes the data. A message never shows a value from the file. The offending value is
  dropped (an invalid code left out of a list, an invalid date made NULL) and the rest of the child
  loads; an assessment, section 47 enquiry or plan without a usable start date is not loaded, nor is a child without
  LAchildID (it cannot be keyed) or a second Child with the same LAchildID.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

import pandas as pd

from assets import config
from assets.cin_census_spec import (
    SPEC_FILE,
    Section,
    code_lookup,
    element_text,
    find_element,
    in_layout,
    lea_codes,
    local_name,
    parse_date,
    sections,
    spec,
    whole_years,
    yes_no,
)
from assets.cin_census_stream import DATE, READ_CHUNK_BYTES, BoundedTarget, typed_frame
from assets.reading import PackRejected
from assets.standardise import case_key
from assets.statutory_rejections import statutory_rejection

CHILD_COLUMNS = {"la_code": "str", "collection_year": "int64", "child_key": "str", "age": "Int64",
                 "sex": "str", "ethnicity": "str", "disabled": "bool", "source_row": "int64"}
EPISODE_COLUMNS = {"la_code": "str", "collection_year": "int64", "child_key": "str", "episode": "int64",
                   "referral_date": DATE, "referral_source": "str", "primary_need": "str", "closure_date": DATE,
                   "reason_for_closure": "str", "referral_nfa": "boolean"}
ASSESSMENT_COLUMNS = {"la_code": "str", "collection_year": "int64", "child_key": "str", "episode": "int64",
                      "start_date": DATE, "authorisation_date": DATE, "factors": "object"}
CP_PLAN_COLUMNS = {"la_code": "str", "collection_year": "int64", "child_key": "str", "episode": "int64",
                   "start_date": DATE, "end_date": DATE, "initial_category": "str", "latest_category": "str"}
SECTION47_COLUMNS = {"la_code": "str", "collection_year": "int64", "child_key": "str", "episode": "int64",
                     "start_date": DATE, "icpc_target_date": DATE, "icpc_date": DATE, "icpc_not_required": "boolean"}
READ_TABLES = ("cin_children", "cin_episodes", "cin_assessments", "cin_section47", "cin_cp_plans")
# The records kept from the blocks inside an episode (CINdetails), by warehouse table.
RECORD_COLUMNS = {"cin_assessments": ASSESSMENT_COLUMNS, "cin_section47": SECTION47_COLUMNS,
                  "cin_cp_plans": CP_PLAN_COLUMNS}
QUARANTINE_COLUMNS = {"la_code": "str", "period": "str", "source_file": "str", "table_name": "str",
                      "row_number": "int64", "column_name": "str", "rule": "str", "message": "str"}


@dataclass
class CinReturn:
    """One LA's CIN census return, read and checked."""

    la_code: str
    collection_year: int
    reference_date: dt.date
    source_file: str
    children: pd.DataFrame     # la_code, collection_year, child_key, age, sex, ethnicity, disabled, source_row
    episodes: pd.DataFrame     # ... child_key, episode, referral_date, referral_source, primary_need,
    #                            closure_date, reason_for_closure, referral_nfa
    assessments: pd.DataFrame  # ... child_key, episode, start_date, authorisation_date, factors
    cp_plans: pd.DataFrame     # ... child_key, episode, start_date, end_date, initial_category, latest_category
    section47: pd.DataFrame    # ... child_key, episode, start_date, icpc_target_date, icpc_date, icpc_not_required
    quarantine: pd.DataFrame   # la_code, period, source_file, table_name, row_number, column_name, rule, message
    # Blocks read per table (Child, CINdetails, Assessments, ChildProtectionPlans), loaded or not:
    # a problem may leave a value out and the row still loads, so quarantine rows do not count rows.
    rows_read: dict[str, int] = field(default_factory=dict)


def read_cin_census(path: Path, secret: bytes, la_code: str | None = None, name: str | None = None) -> CinReturn:
    """Read one CIN census XML file. Raises PackRejected when the file as a whole cannot be used;
    `la_code`, when given, is the LA the file must belong to; `name` is how the file is named in
    messages and quarantine rows (default: its file name)."""
    return _Reader(Path(path), secret, la_code.strip().upper() if la_code else None, name).read()


# --- the reader --------------------------------------------------------------------------------

class _Reader:
    def __init__(self, path: Path, secret: bytes, expected_la: str | None, name: str | None = None):
        self.path, self.secret, self.expected_la = path, secret, expected_la
        self.name = name or path.name
        self.la_code: str | None = None
        self.reference_date: dt.date | None = None
        self.year = 0
        self.problems: list[tuple] = []  # (table, row, element, rule, message)
        self.children: list[dict] = []
        self.episodes: list[dict] = []
        self.records: dict[str, list[dict]] = {table: [] for table in RECORD_COLUMNS}  # by warehouse table
        self.keys_seen: set[str] = set()
        self.rows_read: Counter[str] = Counter()  # warehouse table -> blocks read for it, loaded or not
        self.limits = config.limits()["statutory"]

    # file level

    def reject(self, rule: str, message: str, column: str | None = None) -> PackRejected:
        return PackRejected(rule, f"{self.name}: {message}", "cin_census", column)

    def rejection(self, name: str, column: str | None = None, **values) -> PackRejected:
        """A rejection whose message is in config/rules.yaml (statutory_rejections)."""
        return statutory_rejection(name, self.name, "cin_census", column, **values)

    def over_limit(self, setting: str, **values) -> PackRejected:
        return self.rejection("over_limit", setting=setting, limit=self.limits[setting], **values)

    def read(self) -> CinReturn:
        if self.path.stat().st_size > self.limits["xml_file_bytes"]:
            raise self.over_limit("xml_file_bytes")
        target = BoundedTarget(self, self.limits)
        parser = ET.XMLParser(target=target)
        # The parser holds a tag, comment or processing instruction whole until it ends, reporting
        # nothing (text, by contrast, is reported as it arrives); so the bytes fed without any event
        # are bounded by what an element with the most attributes allowed, each as long as the
        # longest text allowed, could take. The count is checked once a chunk, so chunks a quarter
        # of the bound keep what the parser holds close to it.
        most_silent = (self.limits["xml_attributes"] + 1) * self.limits["xml_text_chars"]
        chunk_bytes = max(1, min(READ_CHUNK_BYTES, most_silent // 4))
        silent = 0
        try:
            with open(self.path, "rb") as handle:
                for chunk in iter(lambda: handle.read(chunk_bytes), b""):
                    events = target.events
                    parser.feed(chunk)
                    silent = silent + len(chunk) if target.events == events else 0
                    if silent > most_silent:
                        raise self.rejection("tag_too_long", limit=most_silent)
            parser.close()
        except ET.ParseError as error:
            # The parser's own message, by its code: never the text of the error, which could quote the file.
            line, char = error.position
            raise self.rejection("not_well_formed", error=expat.errors.messages.get(error.code, "a syntax error"),
                                 line=line, char=char + 1) from None
        except (LookupError, ValueError):  # UnicodeError is a ValueError
            # Before the first element, these come from the parser looking up the encoding the
            # XML declaration names; later, they are the reader's own and go on up.
            if target.started:
                raise
            raise self.rejection("encoding") from None
        if self.reference_date is None:
            raise self.reject("missing_reference_date", "the file has no Header with a ReferenceDate.",
                              "ReferenceDate")
        return self.result()

    def header_ended(self, header: ET.Element) -> None:
        if self.reference_date is None:  # a second Header is ignored
            self.read_header(header)

    def child_ended(self, child: ET.Element, position: int) -> None:
        if self.reference_date is None:
            raise self.reject("missing_reference_date", "the Header, with its ReferenceDate, must come before "
                              "the children.", "ReferenceDate")
        self.read_child(child, position)

    def read_header(self, header: ET.Element) -> None:
        elements = spec()["header"]["elements"]
        collection = element_text(find_element(header, elements["Collection"]["path"]))
        if collection.upper() != spec()["collection"]:
            raise self.reject("not_cin_census", "the header does not say this is a CIN census return "
                              f"(Header/{elements['Collection']['path']} must be {spec()['collection']}).",
                              "Collection")
        reference = parse_date(element_text(find_element(header, elements["ReferenceDate"]["path"])))
        if reference is None:
            raise self.reject("missing_reference_date", "the header has no valid ReferenceDate (Header/"
                              f"{elements['ReferenceDate']['path']}, written YYYY-MM-DD); the collection year and "
                              "ages cannot be worked out without it.", "ReferenceDate")
        lea = element_text(find_element(header, elements["LEA"]["path"]))
        la_code = lea_codes().get(lea) if re.fullmatch(r"\d{3}", lea) else None
        if la_code is None:
            shown = f"LEA {lea}" if re.fullmatch(r"\d{3}", lea) else "the LEA (a 3-digit number)"
            raise self.reject("unknown_lea", f"{shown} in the header is not a local authority in "
                              "config/la_codes.csv (column old_la_code).", "LEA")
        if self.expected_la and la_code != self.expected_la:
            raise self.reject("la_code_mismatch", f"the header's LEA {lea} is {la_code}, not {self.expected_la} "
                              "as expected. Check that the file is this LA's return.", "LEA")
        self.la_code, self.reference_date, self.year = la_code, reference, reference.year
        year = element_text(find_element(header, elements["Year"]["path"]))
        if year and year != str(reference.year):
            self.problem(spec()["header"]["table"], 0, "Year", "header_year", "Header")

    # row level

    def problem(self, table: str, row: int, element: str, rule: str, block: str, expected: str = "") -> None:
        text = spec()["rules"][rule]
        values = {"element": element, "block": block, "expected": expected}
        self.problems.append((table, row, element, rule,
                              text["message"].format(**values) + " " + text["fix"].format(**values)))

    def stray_text(self, elem: ET.Element, table: str, row: int) -> None:
        """Text between elements (mixed content) is ignored and reported, once per block, in document
        order. Walked with a list rather than by recursion, so no nesting can exhaust the stack."""
        pending = [(elem, table)]
        while pending:
            elem, table = pending.pop()
            tag = local_name(elem.tag)
            section = sections().get(tag)
            table = section.table if section and section.table else table
            if len(elem) and (element_text(elem) or any((sub.tail or "").strip() for sub in elem)):
                self.problem(table, row, tag, "stray_text", tag)
            pending.extend((sub, table) for sub in reversed(elem) if len(sub))

    def read_block(self, elem: ET.Element, section: Section, row: int) -> dict:
        """The output values of one block's elements, each checked against its spec."""
        present: dict[str, ET.Element] = {}
        for sub in elem:
            tag = local_name(sub.tag)
            if tag in section.elements or tag in section.sub_blocks:
                present.setdefault(tag, sub)
            else:
                self.problem(section.table, row, tag, "unknown_element", section.block)
        outside = {}  # output -> element found from another year's layout
        for name, element_spec in section.elements.items():
            if name in present and not in_layout(element_spec, self.year):
                expected = next((other for other, s in section.elements.items() if other != name
                                 and s.get("output") == element_spec.get("output") and in_layout(s, self.year)), "")
                self.problem(section.table, row, name, "wrong_layout", section.block, expected)
                outside[element_spec.get("output")] = name
        values: dict = {}
        for name, element_spec in section.elements.items():
            kind = element_spec.get("type")
            if kind is None or not in_layout(element_spec, self.year):
                continue  # dropped or not used: never read
            output = element_spec["output"]
            node = present.get(name)
            if kind == "code_list":
                values[output] = self.code_list(node, section, name, row)
                continue
            text = element_text(node)
            if not text:
                unless = element_spec.get("required_unless")  # an alternative element that may stand in
                excused = output in outside or (unless and element_text(present.get(unless)))
                if element_spec.get("required") and not excused:
                    self.problem(section.table, row, name, "required", section.block)
                values[output] = None
                continue
            values[output] = self.value(text, kind, section, name, row)
        return values

    def value(self, text: str, kind: str, section: Section, name: str, row: int):
        element_spec = section.elements[name]
        if kind == "text":
            return text
        if kind == "code":
            code = code_lookup(section.block, name).get(text.lower())
            if code is None:
                self.problem(section.table, row, name, "vocabulary", section.block)
            return code
        if kind == "yes_no":
            answer = yes_no().get(text.lower())
            if answer is None:
                self.problem(section.table, row, name, "type_yes_no", section.block)
            return answer
        if kind == "date":
            date = parse_date(text)
            if date is None:
                self.problem(section.table, row, name, "type_date", section.block)
            elif element_spec.get("not_after_reference") and date > self.reference_date:
                self.problem(section.table, row, name, "date_after_reference", section.block)
                return None
            return date
        raise ValueError(f"{SPEC_FILE}: unknown type {kind!r} for {name}")

    def code_list(self, node: ET.Element | None, section: Section, name: str, row: int) -> list[str]:
        """The valid codes of a list block (FactorsIdentifiedAtAssessment, Disabilities), in file order,
        each once; invalid codes are left out."""
        if node is None:
            return []
        item = section.elements[name]["item"]
        lookup = code_lookup(section.block, name)
        codes: list[str] = []
        items = 0
        for sub in node:
            tag = local_name(sub.tag)
            if tag != item:
                self.problem(section.table, row, tag, "unknown_element", name)
                continue
            items += 1
            text = element_text(sub)
            if not text:
                self.problem(section.table, row, item, "required", name)
            elif text.lower() not in lookup:
                self.problem(section.table, row, item, "vocabulary", name)
            elif lookup[text.lower()] not in codes:
                codes.append(lookup[text.lower()])
        if not items:
            self.problem(section.table, row, name, "empty_block", section.block)
        return codes

    def read_child(self, child: ET.Element, row: int) -> None:
        compiled = sections()
        child_section = compiled["Child"]
        table = child_section.table
        self.stray_text(child, table, row)
        blocks: dict[str, list[ET.Element]] = {}
        for sub in child:
            tag = local_name(sub.tag)
            if tag in child_section.sub_blocks:
                blocks.setdefault(tag, []).append(sub)
            else:
                self.problem(table, row, tag, "unknown_element", "Child")
        self.rows_read[table] += 1
        self.rows_read[compiled["CINdetails"].table] += len(blocks.get("CINdetails", []))
        for block in child_section.blocks_required:
            if block not in blocks:
                self.problem(compiled[block].table or table, row, block, "required", "Child")
        # A missing block was reported above, once; its elements are not reported again one by one.
        identifiers, characteristics = (
            self.read_block(blocks[block][0], compiled[block], row) if block in blocks else {}
            for block in ("ChildIdentifiers", "ChildCharacteristics"))
        episodes: list[dict] = []
        records: dict[str, list[dict]] = {table: [] for table in RECORD_COLUMNS}
        for number, details in enumerate(blocks.get("CINdetails", []), start=1):
            episode = self.read_block(details, compiled["CINdetails"], row)
            episodes.append({"episode": number, **episode})
            for sub in details:
                section = compiled.get(local_name(sub.tag))
                if section is None or not section.used or local_name(sub.tag) not in compiled["CINdetails"].sub_blocks:
                    continue  # read but not used (CIN plans, pre-proceedings)
                self.rows_read[section.table] += 1
                record = self.read_block(sub, section, row)
                key_output = section.elements[section.key]["output"]
                if record.get(key_output) is None:
                    self.problem(section.table, row, section.block, "record_dropped", "CINdetails", section.key)
                    continue
                records[section.table].append({"episode": number, **record})
        child_id = identifiers.get("child_key")
        if child_id is None:
            self.problem(table, row, "Child", "record_dropped", "Children", "LAchildID")
            return
        key = case_key(self.secret, self.la_code, child_id)
        if key in self.keys_seen:
            self.problem(table, row, "LAchildID", "duplicate_child", "ChildIdentifiers")
            return
        self.keys_seen.add(key)
        born = identifiers.get("age")  # PersonBirthDate: only the age it gives leaves this function
        none_code = compiled["ChildCharacteristics"].elements["Disabilities"]["none_code"]
        base = {"la_code": self.la_code, "collection_year": self.year, "child_key": key}
        self.children.append({
            **base,
            "age": whole_years(born, self.reference_date) if born else None,
            "sex": identifiers.get("sex"),
            "ethnicity": characteristics.get("ethnicity"),
            "disabled": any(code != none_code for code in characteristics.get("disabled", [])),
            "source_row": row,
        })
        self.episodes.extend({**base, **episode} for episode in episodes)
        for table, kept in records.items():
            self.records[table].extend({**base, **record} for record in kept)

    def result(self) -> CinReturn:
        quarantine = [{"la_code": self.la_code, "period": str(self.year), "source_file": self.name,
                       "table_name": table, "row_number": row, "column_name": element, "rule": rule,
                       "message": message}
                      for table, row, element, rule, message in self.problems]
        return CinReturn(
            la_code=self.la_code,
            collection_year=self.year,
            reference_date=self.reference_date,
            source_file=self.name,
            children=typed_frame(self.children, CHILD_COLUMNS),
            episodes=typed_frame(self.episodes, EPISODE_COLUMNS),
            assessments=typed_frame(self.records["cin_assessments"], ASSESSMENT_COLUMNS),
            cp_plans=typed_frame(self.records["cin_cp_plans"], CP_PLAN_COLUMNS),
            section47=typed_frame(self.records["cin_section47"], SECTION47_COLUMNS),
            quarantine=typed_frame(quarantine, QUARANTINE_COLUMNS),
            rows_read={name: self.rows_read[name] for name in READ_TABLES},
        )

