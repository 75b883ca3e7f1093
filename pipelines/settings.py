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

WRITTEN_BY = "# Written by safeguarding-audit."
# No concurrency pools: one writer at a time comes from the warehouse's file lock, which the operating
# system frees when a process dies; a pool slot held by a killed run would block every later run.
DAGSTER_YAML = f"""\
{WRITTEN_BY} The command line and `dagster dev` share this instance.
telemetry:
  enabled: false
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
    def audits(self) -> Path:
        """Multi-agency case audits: one folder per audit (sample, forms, returns). Restricted."""
        return self.root / "audits"

    @property
    def restricted(self) -> Path:
        """The restricted edition for the partnership's own auditors: never published."""
        return self.root / "restricted"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def key_file(self) -> Path:
        return self.root / "secret" / "case_key.secret"

    def prepare(self) -> AuditHome:
        """Create the folders and the Dagster instance settings (telemetry off). Settings this
        project wrote are brought up to date, so that a home made by an earlier version loses its
        `warehouse` concurrency pool; settings someone wrote by hand are left as they are."""
        for folder in (self.root, self.inbox, self.dagster_home):
            folder.mkdir(parents=True, exist_ok=True)
        dagster_yaml = self.dagster_home / "dagster.yaml"
        try:
            current = dagster_yaml.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current is None or (current.startswith(WRITTEN_BY) and current != DAGSTER_YAML):
            # Written beside it and renamed over it: a second command starting at the same moment
            # reads either the old settings or the new, never half a file.
            staged = dagster_yaml.with_name(f".dagster.yaml.{os.getpid()}")
            staged.write_text(DAGSTER_YAML, encoding="utf-8")
            staged.replace(dagster_yaml)
        return self
