"""Rejections of whole statutory returns (CIN census XML files, SSDA903 folders), worded in
config/rules.yaml (statutory_rejections): shared by the two readers and the loader."""

from __future__ import annotations

from functools import cache

from assets.config import load_yaml
from assets.reading import PackRejected


@cache
def rejection_texts() -> dict:
    """The messages of file-level rejections of statutory returns (config/rules.yaml)."""
    return load_yaml("rules.yaml")["statutory_rejections"]


def statutory_rejection(name: str, file: str, table: str | None = None, column: str | None = None,
                        **values) -> PackRejected:
    """The rejection `name` of config/rules.yaml statutory_rejections, for one file: its rule, and a
    message that starts with the file's name and ends with what to do. `values` fill the message
    (an over_limit rejection names its `setting` and `limit`); none may come from the file."""
    text = rejection_texts()[name]
    values = {"table": table, "column": column, **values}
    if "limits" in text:
        values["what"] = text["limits"][values["setting"]].format(**values)
    return PackRejected(text["rule"], f"{file}: {text['message'].format(**values)} {text['fix'].format(**values)}",
                        table, column)


def error_type(error: BaseException) -> str:
    """An error's type, as a message may name it (never its text, which can quote the file)."""
    kind = type(error)
    module = kind.__module__.lstrip("_")
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def unreadable(name: str, error: BaseException) -> PackRejected:
    """An unexpected error reading a return, as its rejection, naming only the error's type."""
    return statutory_rejection("unreadable", name, error=error_type(error))
