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
# `nux` is the Dagster UI's "join the community" dialog (a newsletter sign-up) on the first visit.
DAGSTER_YAML = f"""\
{WRITTEN_BY} The command line and `dagster dev` share this instance.
telemetry:
  enabled: false
nux:
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
        """Create the folders and the Dagster instance settings (prepare_instance)."""
        for folder in (self.root, self.inbox):
            folder.mkdir(parents=True, exist_ok=True)
        prepare_instance(self.dagster_home)
        return self


def prepare_instance(dagster_home: Path) -> Path:
    """Create a Dagster instance's folder and its settings, dagster.yaml (telemetry and the UI's
    first-visit dialog off); returns the settings' path. Settings this project wrote are brought
    up to date, so that a home made by an earlier version loses its `warehouse` concurrency pool;
    settings someone wrote by hand are left as they are."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    dagster_yaml = dagster_home / "dagster.yaml"
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
    return dagster_yaml


if __name__ == "__main__":  # `make dagster-ui`: the settings of the instance in $DAGSTER_HOME
    print(prepare_instance(Path(os.environ["DAGSTER_HOME"]).resolve()))
