# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smolvm_allowlist's main(): arguments in, result dict out, against a real SQLite file."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bot_bottle.smolmachines.plugins.modules import smolvm_allowlist

RECORD = {
    "name": "agent1", "created_at": 1748282400, "state": "created", "pid": None,
    "pid_start_time": None, "cpus": 1, "mem": 512, "mounts": [], "ports": [], "network": False,
    "gpu": None, "gpu_vram_mib": None,
    "restart": {"policy": "never", "max_retries": 0, "max_backoff_secs": 0, "restart_count": 0,
                "user_stopped": False},
    "last_exit_code": None, "init": [], "init_completed": False, "env": [], "workdir": None,
    "storage_gb": None, "overlay_gb": None, "allowed_cidrs": None, "image": None,
    "entrypoint": [], "cmd": [], "health_cmd": None, "health_interval_secs": None,
    "health_timeout_secs": None, "health_retries": None, "health_startup_grace_secs": None,
    "ssh_agent": False, "ephemeral": False, "source_smolmachine": "/tmp/app.smolmachine",
}


def make_db(path, **changes):
    value = dict(RECORD, **changes)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE vms (name TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL)")
    conn.execute("CREATE TABLE config (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
    conn.execute("INSERT INTO vms VALUES (?, ?)",
                 ("agent1", json.dumps(value, separators=(",", ":")).encode()))
    conn.close()
    return path


def stored(path):
    conn = sqlite3.connect(path)
    try:
        return json.loads(bytes(conn.execute("SELECT data FROM vms").fetchone()[0]))
    finally:
        conn.close()


def digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def run(capsys, args, check_mode=False, diff=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            smolvm_allowlist.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = caught.value.code
    return result


@pytest.fixture
def db(tmp_path):
    return make_db(str(tmp_path / "smolvm.db"))


def test_check_mode_with_diff_then_real_then_again(capsys, db):
    args = {"name": "agent1", "allowed_cidrs": ["127.0.0.16"], "db_path": db}
    before = digest(db)

    checked = run(capsys, args, check_mode=True, diff=True)

    assert checked["changed"] is True
    assert checked["diff"] == {"before": {"allowed_cidrs": None, "network": False},
                               "after": {"allowed_cidrs": ["127.0.0.16/32"], "network": True}}
    assert digest(db) == before

    real = run(capsys, args)

    assert real["changed"] is True
    assert "diff" not in real
    assert real["before"] == {"allowed_cidrs": None, "network": False}
    assert real["after"] == {"allowed_cidrs": ["127.0.0.16/32"], "network": True}
    assert real["machine_state"] == "created"
    assert real["db_path"] == db
    assert stored(db)["allowed_cidrs"] == ["127.0.0.16/32"]

    again = run(capsys, args, diff=True)

    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]


def test_db_path_defaults_to_where_smolvm_puts_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    (tmp_path / "smolvm" / "server").mkdir(parents=True)
    path = make_db(str(tmp_path / "smolvm" / "server" / "smolvm.db"))

    result = run(capsys, {"name": "agent1", "allowed_cidrs": ["127.0.0.16/32"]})

    assert result["changed"] is True
    assert result["db_path"] == path


def test_network_false_is_passed_through(capsys, db):
    result = run(capsys, {"name": "agent1", "allowed_cidrs": ["127.0.0.16"], "db_path": db,
                          "network": False})

    assert result["after"] == {"allowed_cidrs": ["127.0.0.16/32"], "network": False}
    assert stored(db)["network"] is False


def test_an_invalid_cidr_fails_with_the_value_named(capsys, db):
    before = digest(db)

    result = run(capsys, {"name": "agent1", "allowed_cidrs": ["10.0.0.1/8"], "db_path": db})

    assert result["failed"] is True
    assert result["rc"] == 1
    assert "'10.0.0.1/8' has host bits set" in result["msg"]
    assert digest(db) == before


def test_a_running_machine_fails_with_the_reason(capsys, tmp_path):
    path = make_db(str(tmp_path / "smolvm.db"), state="running", pid=4242)
    before = digest(path)

    result = run(capsys, {"name": "agent1", "allowed_cidrs": ["127.0.0.16"], "db_path": path})

    assert result["failed"] is True
    assert "machine 'agent1' is running" in result["msg"]
    assert result["db_path"] == path
    assert digest(path) == before


def test_a_missing_db_fails(capsys, tmp_path):
    missing = str(tmp_path / "none.db")

    result = run(capsys, {"name": "agent1", "allowed_cidrs": ["127.0.0.16"], "db_path": missing})

    assert result["failed"] is True
    assert f"the smolvm state DB {missing} does not exist" in result["msg"]
    assert not (tmp_path / "none.db").exists()


def test_an_unexpected_error_is_reported_with_a_traceback(capsys, db, monkeypatch):
    def broken(self, check_mode=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(smolvm_allowlist.AllowlistPatch, "ensure", broken)

    result = run(capsys, {"name": "agent1", "allowed_cidrs": ["127.0.0.16"], "db_path": db})

    assert result["failed"] is True
    assert "unexpected error patching machine 'agent1'" in result["msg"]
    assert "boom" in result["msg"] and "not proven" in result["msg"]
    assert result["rc"] == 1


def test_name_and_allowed_cidrs_are_required(capsys):
    result = run(capsys, {"name": "agent1"})

    assert result["failed"] is True
    assert "allowed_cidrs" in result["msg"]
