"""The built wheel carries what a host needs, and installs into an empty venv."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("flask_paylinks-*.whl")
    return path


def test_wheel_holds_templates_static_migrations_and_py_typed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "flask_paylinks/py.typed",
        "flask_paylinks/templates/paylinks/checkout/page.html",
        "flask_paylinks/templates/paylinks/dashboard/layout.html",
        "flask_paylinks/db/migrations/env.py",
        "flask_paylinks/db/migrations/script.py.mako",
        "flask_paylinks/db/migrations/versions/0001_initial_tables.py",
    ):
        assert required in names, required
    shipped_static = {n for n in names if n.startswith("flask_paylinks/static/")}
    source_static = {
        "flask_paylinks/" + str(p.relative_to(ROOT / "flask_paylinks"))
        for p in (ROOT / "flask_paylinks" / "static").rglob("*")
        if p.is_file()
    }
    assert shipped_static == source_static
    assert not any(n.startswith(("tests/", "example_app/")) for n in names)


@pytest.mark.slow
def test_wheel_installs_into_an_empty_venv_and_imports(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    done = subprocess.run(
        [
            str(python),
            "-c",
            "from flask_paylinks import PayLinks, ContactDirectory, "
            "SQLAlchemyContactDirectory, Contact, Money; print(Money(4900, 'USD'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert done.stdout.strip() == "$49.00"
