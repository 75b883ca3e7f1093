"""The pseudonymisation key: SAFEGUARDING_AUDIT_KEY, or a random key created once per installation
in a file that only its owner can read."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_ENV = "SAFEGUARDING_AUDIT_KEY"


def load_secret(key_file: Path, key_env: str = KEY_ENV) -> bytes:
    """The key's UTF-8 bytes: from the environment variable `key_env` when it is set, otherwise from
    `key_file`, created (mode 0600) on first use."""
    from_env = os.environ.get(key_env)
    if from_env:
        return from_env.encode("utf-8")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(key_file.parent, 0o700)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_hex(32))
    mode = key_file.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(f"{key_file} is readable by others (mode {mode:o}); run: chmod 600 {key_file}")
    return key_file.read_text(encoding="utf-8").strip().encode("utf-8")
