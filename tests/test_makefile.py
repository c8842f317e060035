"""The Makefile's set-up notices a broken .venv and makes it again (issue 13, the `.venv` repair).

Each test copies the real Makefile into a scratch directory and runs the real `make install` with
PYTHON set to a stand-in that makes a venv in milliseconds: a `bin/python` linked to this Python and
a `bin/pip` that logs what it was asked to install. So nothing is downloaded and the test is fast,
yet every rule and shell line of the Makefile runs as on a fresh machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FAKE_PYTHON = f"""#!/bin/sh
# Stand-in for `python3 -m venv DIR`: a venv whose pip logs its arguments.
[ "$1" = "-m" ] && [ "$2" = "venv" ] || exit 64
mkdir -p "$3/bin"
ln -sf {sys.executable} "$3/bin/python"
printf '#!/bin/sh\\necho "$@" >> "%s/pip.log"\\n' "$PWD" > "$3/bin/pip"
chmod +x "$3/bin/pip"
echo made > "$3/made-by-fake-python"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in ("pyproject.toml", "requirements.lock"):
        (tmp_path / name).write_text("")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return tmp_path


def _make(project: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(["make", *targets, f"PYTHON={project / 'fake-python'}"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=60)


def _interrupted_venv(project: Path) -> None:
    """What `python -m venv` leaves when stopped before ensurepip: a python, no pip."""
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (project / ".venv" / "bin" / "python").symlink_to(sys.executable)


def _installs(project: Path) -> list[str]:
    log = project / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_a_venv_left_without_pip_is_made_again(project: Path) -> None:
    _interrupted_venv(project)
    result = _make(project, "install")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / ".venv" / "made-by-fake-python").exists()
    assert (project / ".venv" / ".installed").exists()
    assert any("-r requirements.lock" in line for line in _installs(project)), _installs(project)


def test_a_venv_whose_python_is_gone_is_made_again_even_with_its_stamp(project: Path) -> None:
    assert _make(project, "install").returncode == 0
    (project / ".venv" / "bin" / "python").unlink()  # e.g. the system Python it linked to was removed
    (project / ".venv" / "made-by-fake-python").unlink()
    before = len(_installs(project))
    result = _make(project, "install")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / ".venv" / "made-by-fake-python").exists()
    assert len(_installs(project)) > before


def test_a_sound_venv_is_left_alone(project: Path) -> None:
    assert _make(project, "install").returncode == 0
    (project / ".venv" / "keep-me").write_text("")
    installs = _installs(project)
    result = _make(project, "install")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout, result.stdout + result.stderr
    assert (project / ".venv" / "keep-me").exists() and _installs(project) == installs
