"""Dagster resources: where the audit home is, and the warehouse connection inside it."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.secret import KEY_ENV, load_secret
from assets.warehouse import SCHEMA_SQL, connection_config, locked
from pipelines.settings import HOME_ENV, INBOX_ENV, KEY_FILE_ENV, THRESHOLD_ENV, AuditHome

progress_logger = logging.getLogger("safeguarding_audit")


class AuditHomeResource(dg.ConfigurableResource):
    """The audit home: inbox, warehouse, site, exports and key file live under it. The key itself
    is never part of the configuration (the UI shows configuration): only where to find it."""

    home: str
    inbox: str = ""  # blank: <home>/inbox
    key_env: str = KEY_ENV  # the environment variable that holds the pseudonymisation key, if set
    key_file: str = ""  # blank: <home>/secret/case_key.secret, created on first use
    suppression_threshold: int = 0  # 0: config/publication.yaml

    def secret(self) -> bytes:
        return load_secret(Path(self.key_file) if self.key_file else self.paths.key_file, self.key_env)

    @property
    def threshold(self) -> int | None:
        return self.suppression_threshold or None

    @property
    def paths(self) -> AuditHome:
        return AuditHome.resolve(self.home)

    @property
    def inbox_path(self) -> Path:
        return Path(self.inbox).resolve() if self.inbox else self.paths.inbox


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse, one writer at a time across runs and processes, whoever launched them
    (see assets.warehouse.locked). This lock is the only guarantee: the operating system releases it
    when the process holding it dies, so a killed run never blocks the next one. Every connection
    it gives has the warehouse schema."""

    @contextmanager
    def get_connection(self):
        with locked(self.database, exclusive=True, wait_message=progress_logger.info):
            with super().get_connection() as con:
                con.execute(SCHEMA_SQL)
                yield con


def build_resources(home: str | None = None, inbox: str | None = None) -> dict:
    paths = AuditHome.resolve(home or os.environ.get(HOME_ENV))
    return {
        "audit_home": AuditHomeResource(
            home=str(paths.root), inbox=str(inbox or os.environ.get(INBOX_ENV, "")),
            key_file=os.environ.get(KEY_FILE_ENV, ""),
            suppression_threshold=int(os.environ.get(THRESHOLD_ENV, "0") or 0)),
        "warehouse": WarehouseResource(database=str(paths.warehouse), connection_config=connection_config()),
    }


def progress_for(context: dg.AssetExecutionContext):
    """Progress lines go to the Dagster event log and to the command line's display."""

    def progress(message: str) -> None:
        context.log.info(message)
        progress_logger.info(message)

    return progress
