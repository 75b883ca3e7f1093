"""Orchestration: Dagster definitions, resources and the `safeguarding-audit` command line."""
