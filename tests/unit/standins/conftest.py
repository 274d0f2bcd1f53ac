# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smolvm stand-in run as a subprocess, in a data home of its own, for the stand-in's tests."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

STANDIN = Path(__file__).resolve().parents[2] / "standins" / "smolvm"
sys.path.insert(0, str(STANDIN.parent))
import smolmachine_pack  # noqa: E402  pylint: disable=wrong-import-position


class Smolvm:
    def __init__(self, data_home: Path):
        self.data_home = data_home
        self.db = data_home / "smolvm" / "server" / "smolvm.db"
        self.pack = data_home / "app.smolmachine"
        smolmachine_pack.make_pack(self.pack, image="python:3.12-alpine", cmd=["python3", "app.py"],
                                   env=["PYTHONUNBUFFERED=1"], workdir="/app")

    def __call__(self, *args, version="0.8.0", stdin=subprocess.DEVNULL, **env):
        environ = dict(os.environ, XDG_DATA_HOME=str(self.data_home),
                       SMOLVM_STANDIN_VERSION=version)
        environ.pop("SMOLVM_STANDIN_FAIL", None)
        environ.pop("SMOLVM_STANDIN_EXEC_FAILURES", None)
        environ.update(env)
        return subprocess.run([sys.executable, str(STANDIN), *args], env=environ, stdin=stdin,
                              capture_output=True, text=True, check=False)

    @staticmethod
    def ok(proc):
        """The finished command, once it is known to have succeeded."""
        assert proc.returncode == 0, proc.stderr
        return proc

    def row(self, name):
        conn = sqlite3.connect(self.db)
        try:
            found = conn.execute("SELECT data, typeof(data) FROM vms WHERE name = ?",
                                 (name,)).fetchone()
        finally:
            conn.close()
        return found

    def record(self, name):
        data, storage = self.row(name)
        assert storage == "blob"
        return json.loads(bytes(data))

    def boot(self, name):
        path = self.db.parent / "standin" / "boots" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def sql(self, statement, params=()):
        conn = sqlite3.connect(self.db)
        try:
            conn.execute(statement, params)
            conn.commit()
        finally:
            conn.close()


@pytest.fixture
def smolvm(tmp_path):
    return Smolvm(tmp_path)
