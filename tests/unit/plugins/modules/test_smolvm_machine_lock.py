# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smolvm_machine's main() on smolvm's "database is locked", with the real stand-in at 0.8.0
run through AnsibleModule.run_command, and the write lock held by the test's own connection.

The module's sleep is replaced by one that lets the lock go, so nothing waits for real.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_lifecycle import MachineManager
from ansible_collections.bot_bottle.smolmachines.plugins.modules import smolvm_machine

STANDIN = Path(__file__).resolve().parents[3] / "standins" / "smolvm"


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("SMOLVM_STANDIN_VERSION", "0.8.0")
    # The stand-in's `#!/usr/bin/env python` must find this interpreter.
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}")
    for hook in ("SMOLVM_STANDIN_FAIL", "SMOLVM_STANDIN_BLOCK", "SMOLVM_STANDIN_LOCK_AFTER_CREATE",
                 "SMOLVM_STANDIN_UNDO_ALLOWLIST_ON_START"):
        monkeypatch.delenv(hook, raising=False)
    subprocess.run([sys.executable, str(STANDIN), "machine", "ls"], check=True,
                   capture_output=True)
    db = tmp_path / "smolvm" / "server" / "smolvm.db"
    # Another writer holding smolvm's write lock, in this thread: the module runs here too.
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield db, holder
    if holder.in_transaction:
        holder.execute("ROLLBACK")
    holder.close()


def rows(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {name: json.loads(bytes(data)) for name, data in conn.execute("SELECT name, data FROM vms")}
    finally:
        conn.close()


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            smolvm_machine.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


def test_a_locked_create_is_retried_and_the_retry_is_reported(world, monkeypatch, capsys):
    db, holder = world
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        holder.execute("ROLLBACK")

    monkeypatch.setattr(smolvm_machine, "MachineManager",
                        functools.partial(MachineManager, sleep=sleep, jitter=lambda: 0.0))
    code, result = run_module({"name": "vm1", "executable": str(STANDIN), "state": "started"},
                              capsys)

    assert code == 0, result
    assert result["changed"] is True
    assert result["lock_retries"] == 1
    assert [argv[2] for argv in result["commands"]] == ["create", "start"]
    assert result["machine"]["state"] == "running"
    assert len(sleeps) == 1
    assert rows(db)["vm1"]["state"] == "running"


def test_a_lock_that_outlasts_db_timeout_fails_clearly_and_writes_nothing(world, capsys):
    db, _holder = world
    code, result = run_module({"name": "vm1", "executable": str(STANDIN), "db_timeout": 0},
                              capsys)

    assert code == 1
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["lock_retries"] == 0
    assert result["rc"] == 1
    assert result["stderr"].strip() == "Error: database error: database is locked"
    assert result["commands"] == [[str(STANDIN), "machine", "create", "vm1"]]
    assert result["msg"].startswith("smolvm machine create for machine vm1 was refused on a locked "
                                    "database 1 time(s) in a row over db_timeout=0 s")
    assert f"smolvm's database {db} stayed locked" in result["msg"]
    assert rows(db) == {}
