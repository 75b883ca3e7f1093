"""The reference docs are generated from config/, and the committed copies are up to date."""

from __future__ import annotations

from assets.reference_docs import DOCS, GENERATED


def test_committed_reference_docs_match_the_configuration():
    for name, render in GENERATED.items():
        committed = (DOCS / name).read_text(encoding="utf-8")
        assert committed == render(), f"docs/{name} is out of date: run `make docs`"


def test_export_pack_guide_covers_every_column_and_rule():
    from assets.config import contract, load_yaml

    text = GENERATED["export-pack.md"]()
    for table in contract()["tables"].values():
        for column in table["columns"]:
            assert f"| `{column}` |" in text
    for rule in load_yaml("rules.yaml")["row_rules"]:
        assert f"| `{rule}` |" in text
