"""Shared fixtures. Every test works in its own temporary audit home, with its own key."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TEST_KEY = "test-key"


def pytest_configure(config):
    """The known key is set before any fixture runs, module-scoped ones included."""
    os.environ["SAFEGUARDING_AUDIT_KEY"] = TEST_KEY


@pytest.fixture(autouse=True)
def fixed_key(monkeypatch):
    """A known pseudonymisation key, so expected case_keys can be worked out in the tests."""
    monkeypatch.setenv("SAFEGUARDING_AUDIT_KEY", TEST_KEY)
    monkeypatch.delenv("SAFEGUARDING_AUDIT_HOME", raising=False)
    monkeypatch.delenv("SAFEGUARDING_AUDIT_INBOX", raising=False)


@pytest.fixture
def audit_home(tmp_path) -> Path:
    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    return home


@pytest.fixture
def tiny_inbox(audit_home) -> Path:
    """The hand-built pack whose expected indicator values are worked out in test_pipeline.py."""
    shutil.copytree(FIXTURES / "tiny_pack" / "E06000001_2025Q3", audit_home / "inbox" / "E06000001_2025Q3")
    return audit_home / "inbox"
