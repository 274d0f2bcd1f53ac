# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.smolmachines.plugins.modules import smolvm_machine_info


class FakeSmolvm:
    """`--version` and `machine ls --json` of one smolvm version; records every argv."""

    def __init__(self, exe, version, listed):
        self.exe = exe
        self.version = version
        self.listed = listed
        self.calls = []

    def __call__(self, argv, **kwargs):
        self.calls.append(list(argv))
        if argv[1:] == ["--version"]:
            return 0, f"smolvm {self.version}\n", ""
        assert argv[-3:] == ["machine", "ls", "--json"]
        return 0, json.dumps(self.listed), ""


@pytest.fixture
def smolvm(tmp_path, monkeypatch):
    exe = tmp_path / "smolvm"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    fake = FakeSmolvm(str(exe), "1.9.1", [])
    monkeypatch.setattr(AnsibleModule, "run_command", lambda module, argv, **kwargs: fake(argv, **kwargs))
    return fake


def make_db(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE vms (name TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL)")
    for record in records:
        conn.execute("INSERT INTO vms VALUES (?, ?)", (record["name"], json.dumps(record).encode()))
    conn.close()
    return str(path)


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_lists_machines_with_their_policy_and_changes_nothing(smolvm, tmp_path, run_module):
    db = make_db(tmp_path / "smolvm.db", [
        {"name": "vm1", "state": "stopped", "network": True, "allowed_cidrs": ["198.18.0.16/32"],
         "labels": {"bot_bottle.slug": "s"}}])
    smolvm.listed = [{"name": "vm1", "state": "stopped", "pid": None, "network": True,
                      "labels": {"bot_bottle.slug": "s"}}]
    before = digest(db)
    code, result = run_module(smolvm_machine_info, {"executable": smolvm.exe, "db_path": db,
                                                    "_ansible_check_mode": True})
    assert code == 0
    assert result["changed"] is False
    assert result["smolvm_version"] == "1.9.1"
    assert result["backend_with_allowlist"] == "virtio-net"
    assert result["db_path"] == db
    assert result["machines"] == [{"name": "vm1", "state": "stopped", "pid": None,
                                   "labels": {"bot_bottle.slug": "s"},
                                   "allowed_cidrs": ["198.18.0.16/32"], "network": True, "egress": {}}]
    assert digest(db) == before


def test_state_dir_is_passed_to_smolvm_and_locates_the_db(smolvm, tmp_path, run_module):
    smolvm.version = "1.32.2"
    state = tmp_path / "state"
    make_db(state / ".local" / "share" / "smolvm" / "server" / "smolvm.db",
            [{"name": "vm1", "network": True, "allowed_cidrs": ["10.0.0.0/8"]}])
    smolvm.listed = [{"name": "vm1", "state": "created", "pid": None, "allowed_cidrs": ["10.0.0.0/8"]}]
    code, result = run_module(smolvm_machine_info, {"executable": smolvm.exe, "state_dir": str(state)})
    assert code == 0
    assert result["db_path"] == str(state / ".local" / "share" / "smolvm" / "server" / "smolvm.db")
    assert [m["allowed_cidrs"] for m in result["machines"]] == [["10.0.0.0/8"]]
    assert smolvm.calls[-1] == [smolvm.exe, "--state-dir", str(state), "machine", "ls", "--json"]


def test_state_dir_is_refused_at_1_9_1_naming_the_way_out(smolvm, tmp_path, run_module):
    code, result = run_module(smolvm_machine_info, {"executable": smolvm.exe,
                                                    "state_dir": str(tmp_path / "s")})
    assert code == 1
    assert result["msg"].startswith(f"state_dir='{tmp_path / 's'}' cannot be used with smolvm 1.9.1")
    assert [c[1:] for c in smolvm.calls] == [["--version"]]


def test_a_machine_missing_from_the_db_fails_with_the_db_named(smolvm, tmp_path, run_module):
    smolvm.listed = [{"name": "vm1", "state": "created", "pid": None}]
    db = str(tmp_path / "other" / "smolvm.db")
    code, result = run_module(smolvm_machine_info, {"executable": smolvm.exe, "db_path": db})
    assert code == 1
    assert result["msg"].startswith(
        f"`smolvm machine ls --json` lists machine 'vm1', but the database {db} has no row")
    assert result["db_path"] == db


def test_labels_filter_before_1_8_0_fails(smolvm, tmp_path, run_module):
    smolvm.version = "1.7.7"
    code, result = run_module(smolvm_machine_info, {"executable": smolvm.exe, "labels": {"a": "b"},
                                                    "db_path": str(tmp_path / "x.db")})
    assert code == 1
    assert "it has no labels (they exist from 1.8.0)" in result["msg"]


def test_a_missing_executable_is_named(tmp_path, run_module):
    code, result = run_module(smolvm_machine_info, {"executable": str(tmp_path / "nope")})
    assert code == 1
    assert result["msg"].startswith(f"smolvm executable {tmp_path / 'nope'} does not exist")
