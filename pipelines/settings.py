"""Where things live. One home directory holds the warehouse, the inbox, the site, the exports,
the Dagster instance and the pseudonymisation key, so that the command line and the Dagster UI
share everything."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "SAFEGUARDING_AUDIT_HOME"
INBOX_ENV = "SAFEGUARDING_AUDIT_INBOX"
KEY_FILE_ENV = "SAFEGUARDING_AUDIT_KEY_FILE"
THRESHOLD_ENV = "SAFEGUARDING_AUDIT_SUPPRESSION_THRESHOLD"
DEFAULT_HOME = "var"

DAGSTER_YAML = """\
# Written by safeguarding-audit. The command line and `dagster dev` share this instance.
telemetry:
  enabled: false
# DuckDB allows one writing process per file: assets that open the warehouse share the
# `warehouse` pool, and no pool runs more than one step at a time across runs.
concurrency:
  pools:
    default_limit: 1
"""


@dataclass(frozen=True)
class AuditHome:
    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> AuditHome:
        return cls(Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME).resolve())

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def statutory(self) -> Path:
        """Statutory returns: CIN census XML files and SSDA903 folders."""
        return self.root / "statutory"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def key_file(self) -> Path:
        return self.root / "secret" / "case_key.secret"

    def prepare(self) -> AuditHome:
        """Create the folders and the Dagster instance settings (telemetry off)."""
        for folder in (self.root, self.inbox, self.dagster_home):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        if not dagster_yaml.exists():
            dagster_yaml.write_text(DAGSTER_YAML, encoding="utf-8")
        return self
