# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run one command sequence against the real smolvm X.Y.Z and against the stand-in set to X.Y.Z.

Which real versions: `--smolvm-version X.Y.Z` (repeatable), else every version listed in
.build/smolvm-real.txt ("VERSION PATH" lines, written by scripts/smolvm-real.sh), else the pinned
three. A real version whose binary is missing is skipped, saying where it was looked for.
BOTTLE_STANDIN_SMOLVM names another stand-in to compare (how a mutant is tried by hand).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "tests" / "standins"
REAL_LIST = ROOT / ".build" / "smolvm-real.txt"
PINNED = ("1.7.7", "1.9.1", "1.32.2")
COMMAND_TIMEOUT_S = 60

sys.path.insert(0, str(STANDINS))
import smolmachine_pack  # noqa: E402  pylint: disable=wrong-import-position


def pytest_addoption(parser):
    parser.addoption("--smolvm-version", action="append", default=[],
                     help="a real smolvm version to compare the stand-in with (repeatable)")


def real_smolvms():
    """version -> path of the real CLI, from scripts/smolvm-real.sh's list."""
    found = {}
    if REAL_LIST.is_file():
        for line in REAL_LIST.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2:
                found[parts[0]] = parts[1]
    return found


def pytest_generate_tests(metafunc):
    if "version" in metafunc.fixturenames:
        versions = metafunc.config.getoption("--smolvm-version") or list(real_smolvms()) or list(PINNED)
        metafunc.parametrize("version", versions, scope="module")


class Smolvm:
    """One smolvm (real or stand-in) with a state of its own under `home`."""

    def __init__(self, kind, version, argv0, home: Path):
        self.kind = kind
        self.version = version
        self.argv0 = argv0
        self.home = home
        for sub in ("home", "xdg", "data"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
            "HOME": str(home / "home"), "XDG_DATA_HOME": str(home / "xdg"),
            "SMOLVM_DATA_DIR": str(home / "data"), "SMOLVM_STANDIN_VERSION": version,
        }

    @property
    def db(self) -> Path:
        return self.home / "data" / ".local" / "share" / "smolvm" / "server" / "smolvm.db"

    def popen(self, *args, env=None, **kwargs):
        return subprocess.Popen([*self.argv0, *args], env=dict(self.env, **(env or {})),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **kwargs)

    def __call__(self, *args, env=None, unset=()):
        environ = dict(self.env, **(env or {}))
        for key in unset:
            environ.pop(key, None)
        return subprocess.run([*self.argv0, *args], env=environ, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                              check=False)

    def pack(self, name="app.smolmachine"):
        """A minimal .smolmachine the real CLI accepts, made by hand."""
        path = self.home / name
        smolmachine_pack.make_pack(path, image="python:3.12-alpine", cmd=["python3", "app.py"],
                                   env=["PYTHONUNBUFFERED=1"], workdir="/app", cpus=2, mem=1024)
        return path

    def sql(self, statement, params=()):
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(statement, params).fetchall()
        finally:
            conn.close()


@pytest.fixture
def pair(version, tmp_path):
    """(real, stand-in), both set to `version`; the real one skipped when it is not installed."""
    path = real_smolvms().get(version)
    if path is None or not os.access(path, os.X_OK):
        pytest.skip(f"real smolvm {version} not installed (looked for it in {REAL_LIST}: "
                    f"{path or 'not listed'}); run scripts/smolvm-real.sh or `make setup`")
    standin = os.environ.get("BOTTLE_STANDIN_SMOLVM") or str(STANDINS / "smolvm")
    return (Smolvm("real", version, [path], tmp_path / "real"),
            Smolvm("standin", version, [sys.executable, standin], tmp_path / "standin"))


def json_shape(value):
    """The type structure of a JSON value: what the collection relies on besides chosen values."""
    if isinstance(value, dict):
        return {key: json_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_shape(item) for item in value[:1]]
    return type(value).__name__


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None
