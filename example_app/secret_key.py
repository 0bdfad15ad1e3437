"""The CRM's ``SECRET_KEY``: from the environment, or kept in the instance folder.

Flask signs the session cookie (who is logged in) with ``SECRET_KEY``; anyone
who knows it can log in as any merchant. So the CRM never falls back to a
key written in its source. In order, it uses:

1. ``SECRET_KEY`` from the environment (or the config passed to ``create_app``);
2. the key kept in ``instance/secret_key``, which ``make demo`` (that is,
   ``python -m example_app.secret_key``) creates once, readable by its owner
   only;
3. in debug mode, that same file, created on first use; under testing, a
   random key for this process.

Otherwise it refuses to start, with :class:`MissingSecretKey` saying how to
set one.

Run ``python -m example_app.secret_key`` to create the file (it keeps an
existing one) and print where it is.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from flask import Flask

#: The file, in the app's instance folder, that keeps a generated key.
KEY_FILE = "secret_key"

HOW_TO_SET = (
    "Set the SECRET_KEY environment variable to a long random value, e.g.\n"
    "    export SECRET_KEY=\"$(python -c 'import secrets; "
    "print(secrets.token_hex())')\"\n"
    "or keep one in {path} by running once:\n"
    "    python -m example_app.secret_key"
)


class MissingSecretKey(RuntimeError):
    """The CRM has no usable ``SECRET_KEY`` and will not sign sessions without one."""


def key_path(instance_path: str) -> Path:
    """Where the generated key is kept for the app with *instance_path*."""
    return Path(instance_path) / KEY_FILE


def ensure_key_file(path: Path) -> Path:
    """Create *path* with a new random key (mode 0600) unless it exists already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_hex(32) + "\n")
    return path


def read_key_file(path: Path) -> str | None:
    """The key kept in *path*; ``None`` when there is no such file.

    A file others can read, or an empty one, is refused: the key would not
    be secret, or not be a key.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MissingSecretKey(
            f"{path} can be read by other users of this machine, so its key is "
            f"not secret. Run: chmod 600 {path}"
        )
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise MissingSecretKey(
            f"{path} does not hold a key of at least 32 characters. Delete it and "
            "run python -m example_app.secret_key to make a new one."
        )
    return key


def configure_secret_key(app: Flask) -> None:
    """Give *app* a ``SECRET_KEY`` as the module says, or :class:`MissingSecretKey`."""
    if app.config.get("SECRET_KEY"):
        return
    path = key_path(app.instance_path)
    if app.debug:
        ensure_key_file(path)
    key = read_key_file(path)
    if key is None and app.testing:
        key = secrets.token_hex(32)
    if key is None:
        raise MissingSecretKey(
            "The example CRM will not start without a SECRET_KEY: it signs who "
            "is logged in, and a known key lets anyone log in as any merchant.\n"
            + HOW_TO_SET.format(path=path)
        )
    app.config["SECRET_KEY"] = key


def main(instance_path: str | None = None) -> None:
    """Create the instance folder's key file if it is missing; print its path."""
    folder = instance_path or Flask("example_app").instance_path
    path = ensure_key_file(key_path(folder))
    read_key_file(path)  # refuses a file others can read
    print(f"SECRET_KEY is kept in {path}")


if __name__ == "__main__":
    main()
