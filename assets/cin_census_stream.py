"""The CIN census reader's streaming parts: the XML parser's target, which builds one Child at a
time and refuses a file over a limit as it is read, and the typed frames the reader's tables are
made into. The reader itself (what is read from each block, and the checks) is assets/cin_census.py."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd

from assets.cin_census_spec import local_name, spec

DATE = "datetime64[us]"

READ_CHUNK_BYTES = 1 << 20  # fed to the parser at a time


class BoundedTarget:
    """What the XML parser calls as it reads. Builds elements (with ET.TreeBuilder) only for the
    Header and for one Child at a time, hands each to the reader when it ends and keeps nothing of
    it, so memory does not grow with the number of children; and refuses the file as soon as it goes
    over a limit of config/limits.yaml (statutory), before the part over the limit is held: depth
    and attributes when an element starts, elements when one more starts inside a Child, and text as
    each piece of it arrives, before the pieces are joined."""

    def __init__(self, reader, limits: dict):
        self.reader = reader
        self.max_depth = limits["xml_depth"]
        self.max_attributes = limits["xml_attributes"]
        self.max_text = limits["xml_text_chars"]
        self.max_elements = limits["xml_elements_per_child"]
        self.root = spec()["root"]
        self.open: list[str] = []        # tags of the open elements, outermost first
        self.text_chars: list[int] = []  # characters of text so far directly inside each of them
        self.builder: ET.TreeBuilder | None = None  # while inside the Header or a Child
        self.block_depth = 0             # the depth of that Header or Child
        self.elements = 0                # elements in it so far, itself included
        self.children = 0                # Child elements so far: the position of each in the file
        self.events = 0                  # calls so far, so that the feeder can tell the parser is holding
        self.started = False             # whether the first element has started

    def start(self, tag: str, attrs: dict) -> None:
        self.events += 1
        self.started = True
        depth = len(self.open) + 1
        if depth > self.max_depth:
            raise self.reader.over_limit("xml_depth")
        if len(attrs) > self.max_attributes:
            raise self.reader.over_limit("xml_attributes")
        if depth <= 3:  # Message, its Header and Children, and each Child: where the layout is checked
            self.open_block(local_name(tag), depth)
        self.open.append(tag)
        self.text_chars.append(0)
        if self.builder is not None:
            self.elements += 1
            if self.elements > self.max_elements:
                raise self.reader.over_limit("xml_elements_per_child",
                                             block=local_name(self.open[self.block_depth - 1]))
            self.builder.start(tag, attrs)

    def open_block(self, name: str, depth: int) -> None:
        """Check an element of the outer layout, and start building when it is the Header or a Child."""
        if depth == 1 and name != self.root:
            raise self.reader.reject("not_cin_census", f"this is not a CIN census return: the root element "
                                     f"must be {self.root}.")
        if depth == 2 and name not in ("Header", "Children"):
            raise self.reader.reject("not_cin_census", f"this is not a CIN census return: {self.root} may "
                                     "hold only Header and Children.")
        if self.builder is None and ((name == "Header" and depth == 2)
                                     or (name == "Child" and depth == 3 and local_name(self.open[1]) == "Children")):
            self.builder, self.block_depth, self.elements = ET.TreeBuilder(), depth, 0

    def data(self, text: str) -> None:
        self.events += 1
        if self.builder is None:
            return  # text directly in Message or Children (the file's indentation) is not kept
        self.text_chars[-1] += len(text)
        if self.text_chars[-1] > self.max_text:
            raise self.reader.over_limit("xml_text_chars")
        self.builder.data(text)

    def end(self, tag: str) -> None:
        self.events += 1
        self.open.pop()
        self.text_chars.pop()
        if self.builder is None:
            return
        elem = self.builder.end(tag)
        if len(self.open) < self.block_depth:  # the Header or Child itself has ended
            self.builder = None  # and with it the only reference to its elements
            if self.block_depth == 2:
                self.reader.header_ended(elem)
            else:
                self.children += 1
                self.reader.child_ended(elem, self.children)

    def doctype(self, name, pubid, system) -> None:
        # Called where the declaration starts, before any entity in it is declared.
        raise self.reader.rejection("doctype")

    def close(self) -> None:
        return None


def typed_frame(rows: list[dict], columns: dict[str, str]) -> pd.DataFrame:
    """A table with exactly these columns and types, also when it has no rows."""
    data = {}
    for name, dtype in columns.items():
        values = [row.get(name) for row in rows]
        if dtype == DATE:
            data[name] = pd.Series(pd.to_datetime(pd.Series(values, dtype="object")), dtype=DATE)
        else:
            data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data)
