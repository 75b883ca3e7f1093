"""Dagster resources: where the audit home is, and the warehouse connection inside it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.settings import HOME_ENV, INBOX_ENV, AuditHome

progress_logger = logging.getLogger("safeguarding_audit")


class AuditHomeResource(dg.ConfigurableResource):
    """The audit home: inbox, warehouse, site, exports and key file live under it."""

    home: str
    inbox: str = ""  # blank: <home>/inbox

    @property
    def paths(self) -> AuditHome:
        return AuditHome.resolve(self.home)

    @property
    def inbox_path(self) -> Path:
        return Path(self.inbox).resolve() if self.inbox else self.paths.inbox


def build_resources(home: str | None = None, inbox: str | None = None) -> dict:
    paths = AuditHome.resolve(home or os.environ.get(HOME_ENV))
    return {
        "audit_home": AuditHomeResource(home=str(paths.root), inbox=str(inbox or os.environ.get(INBOX_ENV, ""))),
        "warehouse": DuckDBResource(database=str(paths.warehouse)),
    }


def progress_for(context: dg.AssetExecutionContext):
    """Progress lines go to the Dagster event log and to the command line's display."""

    def progress(message: str) -> None:
        context.log.info(message)
        progress_logger.info(message)

    return progress
