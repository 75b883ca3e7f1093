"""What every command shares about the terminal: exit statuses, the error a user's own input
causes, and the progress display (plain lines on stderr)."""

from __future__ import annotations

import logging
import sys

EXIT_OK, EXIT_REJECTED, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: reported in one plain paragraph, exit status 2."""


class CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (not when the handler was made), so
    that a second command in one process, or a test capturing stderr, sees its own lines."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_progress_display() -> None:
    logger = logging.getLogger("safeguarding_audit")
    if not logger.handlers:
        handler = CurrentStderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def say(message: str) -> None:
    logging.getLogger("safeguarding_audit").info(message)
