# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smolvm stand-in (tests/standins/smolvm), run as a subprocess the way modules run smolvm.

It must stay faithful to reference/smolvm.md, or every test built on it proves nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

STANDIN = Path(__file__).resolve().parents[2] / "standins" / "smolvm"
FIELDS_0_8 = [
    "name", "created_at", "state", "pid", "pid_start_time", "cpus", "mem", "mounts", "ports",
    "network", "gpu", "gpu_vram_mib", "restart", "last_exit_code", "init", "init_completed",
    "env", "workdir", "storage_gb", "overlay_gb", "allowed_cidrs", "image", "entrypoint", "cmd",
    "health_cmd", "health_interval_secs", "health_timeout_secs", "health_retries",
    "health_startup_grace_secs", "ssh_agent", "ephemeral", "source_smolmachine",
]
LS_KEYS = {
    "name", "state", "cpus", "memory_mib", "pid", "mounts", "ports", "created_at", "storage_gb",
    "overlay_gb", "image", "entrypoint", "cmd", "ephemeral", "gpu", "gpu_vram_mib",
    "restart_policy", "restart_max_retries", "restart_count", "health_cmd",
    "health_interval_secs", "health_timeout_secs", "health_retries", "health_startup_grace_secs",
    "network",
}


def test_it_is_an_executable_python_script():
    assert os.access(STANDIN, os.X_OK)
    # `python`, not `python3`: the only Python shebang ansible-test sanity allows outside modules.
    assert STANDIN.read_text().startswith("#!/usr/bin/env python\n")


@pytest.mark.parametrize("version", ["0.8.0", "1.8.0", "1.9.3"])
def test_version(smolvm, version):
    assert smolvm.ok(smolvm("--version", version=version)).stdout == f"smolvm {version}\n"


def test_the_default_version_is_0_8_0(smolvm):
    environ = {k: v for k, v in os.environ.items() if k != "SMOLVM_STANDIN_VERSION"}
    proc = subprocess.run([sys.executable, str(STANDIN), "--version"], env=environ,
                          capture_output=True, text=True, check=False)
    assert proc.stdout == "smolvm 0.8.0\n"


def test_the_db_has_smolvms_schema_pragmas_and_config(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))

    conn = sqlite3.connect(smolvm.db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        config = dict(conn.execute("SELECT key, value FROM config"))
    finally:
        conn.close()
    assert tables == {
        "vms": "CREATE TABLE vms (name TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL)",
        "config": "CREATE TABLE config (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    }
    assert config == {"version": "1", "default_cpus": "1", "default_mem": "512",
                      "default_dns": "1.1.1.1"}


def test_1_9_3_adds_its_tables(smolvm):
    smolvm.ok(smolvm("machine", "create", "--name", "agent1", version="1.9.3"))

    conn = sqlite3.connect(smolvm.db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    assert {"vms", "config", "vm_create_reservations", "fork_pools", "fork_pool_snapshots",
            "fork_pool_slots", "fork_leases"} <= tables


def test_0_8_0_create_from_drops_allow_cidr(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1", "--from", str(smolvm.pack),
              "--allow-cidr", "127.0.0.16/32", "-p", "8080:80", "--cpus", "2", "--mem", "1024"))

    data, storage = smolvm.row("agent1")
    assert storage == "blob"
    record = json.loads(bytes(data))
    assert list(record) == FIELDS_0_8
    assert record["allowed_cidrs"] is None
    assert record["network"] is False  # --allow-cidr alone did not turn networking on
    assert record["source_smolmachine"] == str(smolvm.pack)
    assert record["image"] == "python:3.12-alpine"
    assert record["ports"] == [[8080, 80]] and record["cpus"] == 2 and record["mem"] == 1024
    assert record["restart"] == {"policy": "never", "max_retries": 0, "max_backoff_secs": 0,
                                 "restart_count": 0, "user_stopped": False}
    assert b'"ssh_agent":false' in bytes(data)


def test_0_8_0_create_from_with_net_keeps_only_networking(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1", "--from", str(smolvm.pack), "--net",
              "--allow-cidr", "127.0.0.16/32"))

    record = smolvm.record("agent1")
    assert record["allowed_cidrs"] is None and record["network"] is True


@pytest.mark.parametrize("version", ["0.5.12", "1.7.7"])
def test_the_drop_spans_0_5_12_to_1_7_7(smolvm, version):
    name_args = ["agent1"] if version < "1.0.2" else ["--name", "agent1"]
    smolvm.ok(smolvm("machine", "create", *name_args, "--from", str(smolvm.pack), "--allow-cidr",
              "127.0.0.16", version=version))

    assert smolvm.record("agent1")["allowed_cidrs"] is None


@pytest.mark.parametrize("version", ["1.8.0", "1.9.3"])
def test_1_8_0_and_later_keep_allow_cidr_with_from(smolvm, version):
    smolvm.ok(smolvm("machine", "create", "--name", "agent1", "--from", str(smolvm.pack),
              "--allow-cidr", "127.0.0.16", version=version))

    record = smolvm.record("agent1")
    assert record["allowed_cidrs"] == ["127.0.0.16/32"]
    assert record["network"] is True


def test_0_8_0_keeps_allow_cidr_without_from(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1", "-I", "alpine", "--allow-cidr", "10.0.0.0/8"))

    record = smolvm.record("agent1")
    assert record["allowed_cidrs"] == ["10.0.0.0/8"] and record["network"] is True


@pytest.mark.parametrize("version, extra", [("1.9.1", set()), ("1.32.2", {"block_io", "nested_virt"})])
def test_measured_records_carry_their_fields(smolvm, version, extra):
    smolvm.ok(smolvm("machine", "create", "--name", "agent1", version=version))

    record = smolvm.record("agent1")
    assert {"published_sockets", "rosetta", "cuda", "docker_socket", "runtime_managed"} | extra <= set(record)
    assert "labels" not in record and "source_smolmachine" not in record  # omitted when empty


def test_labels_are_kept_from_1_8_0(smolvm):
    smolvm.ok(smolvm("machine", "create", "--name", "agent1", "--label", "a=b", version="1.8.0"))

    assert smolvm.record("agent1")["labels"] == {"a": "b"}
    assert smolvm("machine", "create", "--name", "agent2", "--label", "a=b",
                  version="1.7.7").returncode == 2


def test_env_and_mounts_are_stored_as_pairs(smolvm, tmp_path):
    smolvm.ok(smolvm("machine", "create", "agent1", "-e", "A=1", "-e", "B=x=y",
              "-v", f"{tmp_path}:/work:ro"))

    record = smolvm.record("agent1")
    assert record["env"] == [["A", "1"], ["B", "x=y"]]
    assert record["mounts"] == [[str(tmp_path), "/work", True]]


# ---------------------------------------------------------------------------- the name, by version

def test_1_9_3_rejects_a_positional_name(smolvm):
    proc = smolvm("machine", "create", "agent1", version="1.9.3")

    assert proc.returncode == 2
    assert "unexpected argument 'agent1' found" in proc.stderr
    assert not smolvm.db.exists() or smolvm.row("agent1") is None


def test_0_8_0_rejects_name_flag_on_create(smolvm):
    proc = smolvm("machine", "create", "--name", "agent1")

    assert proc.returncode == 2
    assert "unexpected argument '--name' found" in proc.stderr


@pytest.mark.parametrize("args", [["--name", "agent1"], ["-n", "agent1"]])
def test_1_0_2_takes_the_name_flag(smolvm, args):
    smolvm.ok(smolvm("machine", "create", *args, version="1.0.2"))

    assert smolvm.record("agent1")["name"] == "agent1"


@pytest.mark.parametrize("version", ["1.0.2", "1.9.1"])
def test_a_positional_name_is_refused_from_1_0_2(smolvm, version):
    assert smolvm("machine", "create", "agent1", version=version).returncode == 2
    assert not smolvm.db.exists() or smolvm.row("agent1") is None


@pytest.mark.parametrize("args", [["start", "agent1"], ["stop", "agent1"],
                                  ["delete", "--name", "agent1", "-f"],
                                  ["exec", "-n", "agent1", "--", "true"]])
def test_0_8_rejects_the_name_shapes_it_did_not_have(smolvm, args):
    smolvm.ok(smolvm("machine", "create", "agent1"))

    proc = smolvm("machine", *args)

    assert proc.returncode == 2
    assert smolvm.row("agent1") is not None


def test_1_9_3_lifecycle_uses_name_flags(smolvm):
    smolvm.ok(smolvm("machine", "create", "--name", "agent1", version="1.9.3"))
    assert smolvm("machine", "start", "agent1", version="1.9.3").returncode == 2
    smolvm.ok(smolvm("machine", "start", "-n", "agent1", version="1.9.3"))
    smolvm.ok(smolvm("machine", "stop", "--name", "agent1", version="1.9.3"))
    smolvm.ok(smolvm("machine", "delete", "--name", "agent1", "-f", version="1.9.3"))

    assert smolvm.row("agent1") is None


# ---------------------------------------------------------------------------- errors

def test_create_twice_fails_with_smolvms_error(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))

    proc = smolvm("machine", "create", "agent1")

    assert proc.returncode == 1
    assert proc.stderr == ("Error: config operation failed: create machine: "
                           "machine 'agent1' already exists\n")


@pytest.mark.parametrize("args", [["start", "--name", "ghost"], ["delete", "ghost"]])
def test_a_missing_machine_is_not_found(smolvm, args):
    smolvm.ok(smolvm("machine", "create", "other"))

    proc = smolvm("machine", *args)

    assert proc.returncode == 1
    assert proc.stderr == "Error: vm not found: ghost\n"


def test_a_bad_cidr_is_an_argument_error(smolvm):
    proc = smolvm("machine", "create", "agent1", "--allow-cidr", "nope")

    assert proc.returncode == 2
    assert "invalid CIDR 'nope': expected format like 10.0.0.0/8 or 1.1.1.1" in proc.stderr


def test_from_conflicts_with_image(smolvm):
    proc = smolvm("machine", "create", "agent1", "--from", str(smolvm.pack), "-I", "alpine")

    assert proc.returncode == 2
    assert "cannot be used with" in proc.stderr


def test_injected_failure(smolvm):
    proc = smolvm("machine", "create", "agent1", SMOLVM_STANDIN_FAIL="create")

    assert proc.returncode == 1
    assert proc.stderr == "Error: injected failure\n"
    assert not smolvm.db.exists()


def test_injected_failure_of_rm_counts_as_delete(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))

    proc = smolvm("machine", "rm", "agent1", "-f", SMOLVM_STANDIN_FAIL="delete")

    assert proc.returncode == 1
    assert smolvm.row("agent1") is not None


# ---------------------------------------------------------------------------- delete

def test_delete_without_force_on_a_closed_stdin_cancels(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))

    proc = smolvm("machine", "delete", "agent1", stdin=subprocess.DEVNULL)

    assert proc.returncode == 0
    assert "Delete machine 'agent1'? [y/N]" in proc.stderr
    assert proc.stdout == "Cancelled\n"
    assert smolvm.row("agent1") is not None


def test_delete_without_force_deletes_on_yes(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))

    proc = subprocess.run([sys.executable, str(STANDIN), "machine", "rm", "agent1"],
                          input="y\n", capture_output=True, text=True, check=False,
                          env=dict(os.environ, XDG_DATA_HOME=str(smolvm.data_home)))

    assert proc.returncode == 0
    assert smolvm.row("agent1") is None


def test_delete_with_force_deletes(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))

    assert "Deleted machine: agent1" in smolvm.ok(smolvm("machine", "rm", "agent1", "-f")).stdout
    assert smolvm.row("agent1") is None


# ---------------------------------------------------------------------------- ls --json

def test_ls_json_is_an_empty_array_without_machines(smolvm):
    assert json.loads(smolvm.ok(smolvm("machine", "ls", "--json")).stdout) == []


def test_ls_json_shape(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1", "--from", str(smolvm.pack), "--net",
              "-p", "8080:80", "-p", "9090:90"))

    listed = json.loads(smolvm.ok(smolvm("machine", "ls", "--json")).stdout)

    assert len(listed) == 1
    machine = listed[0]
    assert set(machine) == LS_KEYS
    assert machine["name"] == "agent1" and machine["state"] == "created"
    assert machine["memory_mib"] == 512 and machine["ports"] == 2 and machine["mounts"] == 0
    assert machine["network"] is True and machine["pid"] is None
    assert "allowed_cidrs" not in machine and "network_backend" not in machine


# ---------------------------------------------------------------------------- start, the policy

@pytest.mark.parametrize("version, cidrs, effective, backend", [
    ("0.8.0", ["127.0.0.16/32"], ["127.0.0.16/32"], "tsi"),
    ("0.8.0", ["10.0.0.0/8"], ["10.0.0.0/8", "1.1.1.1/32"], "tsi"),
    ("1.8.0", ["127.0.0.16/32"], ["127.0.0.16/32"], "virtio-net"),
    ("1.8.0", ["127.0.0.16/32", "10.0.0.0/8"], ["127.0.0.16/32", "10.0.0.0/8", "1.1.1.1/32"],
     "virtio-net"),
    ("1.8.0", ["::1/128"], ["::1/128"], "virtio-net"),
])
def test_start_boots_with_the_policy_smolvm_applies(smolvm, version, cidrs, effective, backend):
    name_args = ["agent1"] if version < "1.0.2" else ["--name", "agent1"]
    allow = [a for c in cidrs for a in ("--allow-cidr", c)]
    smolvm.ok(smolvm("machine", "create", *name_args, *allow, version=version))

    smolvm.ok(smolvm("machine", "start", "--name", "agent1", version=version))

    boot = smolvm.boot("agent1")
    assert boot["allowed_cidrs"] == effective
    assert boot["network"] is True
    assert boot["network_backend"] == backend
    assert boot["version"] == version
    record = smolvm.record("agent1")
    assert record["state"] == "running" and record["pid"] == boot["pid"]


def test_start_without_a_policy_is_unrestricted(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1", "--net"))
    smolvm.ok(smolvm("machine", "start", "--name", "agent1"))

    boot = smolvm.boot("agent1")
    assert boot["allowed_cidrs"] is None
    assert boot["network"] is True and boot["network_backend"] == "tsi"


@pytest.mark.parametrize("version", ["0.8.0", "1.32.2"])
def test_start_with_an_empty_list_is_no_policy(smolvm, version):
    """smolvm: `is_some_and(|c| !c.is_empty())` -- an empty allowlist is unrestricted egress."""
    smolvm.ok(smolvm("machine", "create", "--name", "agent1", "--net", version=version)
              if version != "0.8.0" else smolvm("machine", "create", "agent1", "--net"))
    smolvm.sql("UPDATE vms SET data = CAST(json_set(CAST(data AS TEXT), '$.allowed_cidrs', "
               "json('[]')) AS BLOB) WHERE name = 'agent1'")

    smolvm.ok(smolvm("machine", "start", "--name", "agent1", version=version))

    boot = smolvm.boot("agent1")
    assert boot["allowed_cidrs"] is None and boot["network_backend"] == "tsi"


def test_start_sees_a_patch_made_the_way_smolvms_tests_make_it(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1", "--from", str(smolvm.pack),
              "--allow-cidr", "127.0.0.16/32"))
    smolvm.sql("UPDATE vms SET data = CAST(json_set(CAST(data AS TEXT), '$.allowed_cidrs', "
               "json('[\"127.0.0.16/32\"]'), '$.network', json('true')) AS BLOB) WHERE name = ?",
               ("agent1",))

    smolvm.ok(smolvm("machine", "start", "--name", "agent1"))

    assert smolvm.boot("agent1")["allowed_cidrs"] == ["127.0.0.16/32"]


def test_tsi_with_a_policy_is_refused_from_1_1_3(smolvm):
    proc = smolvm("machine", "create", "--name", "agent1", "--net-backend", "tsi",
                  "--allow-cidr", "127.0.0.16", version="1.9.3")

    assert proc.returncode == 1
    assert "tsi" in proc.stderr


def test_a_text_row_makes_start_fail(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))
    smolvm.sql("UPDATE vms SET data = CAST(data AS TEXT)")
    assert smolvm.row("agent1")[1] == "text"

    proc = smolvm("machine", "start", "--name", "agent1")

    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: database error: failed to read VM 'agent1': "
                                  "Invalid column type Text")
    assert smolvm.boot("agent1") is None
    assert smolvm.row("agent1")[1] == "text"


def test_a_text_row_breaks_every_command_that_loads_all_records(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))
    smolvm.ok(smolvm("machine", "create", "other"))
    smolvm.sql("UPDATE vms SET data = CAST(data AS TEXT) WHERE name = 'other'")

    assert smolvm("machine", "ls", "--json").returncode == 1
    assert smolvm("machine", "stop", "--name", "agent1").returncode == 1


@pytest.mark.parametrize("patch, words", [
    ("json_set(CAST(data AS TEXT), '$.network', 1)", "expected a boolean"),
    ("json_set(CAST(data AS TEXT), '$.state', 'sleeping')", "unknown variant `sleeping`"),
    ("json('[1]')", "expected struct VmRecord"),
])
def test_a_record_serde_would_reject_makes_start_fail(smolvm, patch, words):
    smolvm.ok(smolvm("machine", "create", "agent1"))
    smolvm.sql(f"UPDATE vms SET data = CAST({patch} AS BLOB)")

    proc = smolvm("machine", "start", "--name", "agent1")

    assert proc.returncode == 1
    assert "failed to deserialize VmRecord 'agent1'" in proc.stderr and words in proc.stderr


def test_start_of_a_running_machine_is_a_notice(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))
    smolvm.ok(smolvm("machine", "start", "--name", "agent1"))

    proc = smolvm.ok(smolvm("machine", "start", "--name", "agent1"))

    assert "already running" in proc.stdout


def test_stop_then_stop_again(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))
    smolvm.ok(smolvm("machine", "start", "--name", "agent1"))

    smolvm.ok(smolvm("machine", "stop", "--name", "agent1"))
    record = smolvm.record("agent1")
    assert record["state"] == "stopped" and record["pid"] is None

    assert "is not running (state: stopped)" in smolvm.ok(smolvm("machine", "stop", "--name", "agent1")).stdout


def test_a_rewrite_by_the_standin_drops_fields_it_does_not_know(smolvm):
    # serde ignores unknown fields and writes back only its own: a patch of a field this
    # version does not know is lost on the next start or stop, as with the real binary.
    smolvm.ok(smolvm("machine", "create", "agent1"))
    smolvm.sql("UPDATE vms SET data = CAST(json_set(CAST(data AS TEXT), '$.future', 1) AS BLOB)")

    smolvm.ok(smolvm("machine", "start", "--name", "agent1"))

    assert "future" not in smolvm.record("agent1")


def test_update_no_net_clears_the_allowlist_only_when_stopped(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1", "--allow-cidr", "10.0.0.0/8"))
    smolvm.ok(smolvm("machine", "start", "--name", "agent1"))

    proc = smolvm("machine", "update", "agent1", "--no-net")
    assert proc.returncode == 1
    assert proc.stderr == "Error: invalid vm state: expected stopped, got Running\n"

    smolvm.ok(smolvm("machine", "stop", "--name", "agent1"))
    smolvm.ok(smolvm("machine", "update", "agent1", "--no-net"))
    record = smolvm.record("agent1")
    assert record["allowed_cidrs"] is None and record["network"] is False


# ---------------------------------------------------------------------------- exec

def test_exec_needs_a_running_machine(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))

    proc = smolvm("machine", "exec", "--name", "agent1", "--", "true")

    assert proc.returncode == 1
    assert "machine 'agent1' is not running" in proc.stderr


def test_exec_failures_are_injected_after_each_start(smolvm):
    smolvm.ok(smolvm("machine", "create", "agent1"))
    smolvm.ok(smolvm("machine", "start", "--name", "agent1"))
    env = {"SMOLVM_STANDIN_EXEC_FAILURES": "2"}

    codes = [smolvm("machine", "exec", "--name", "agent1", "--", "true", **env).returncode
             for attempt in range(3)]
    assert codes == [1, 1, 0]

    smolvm.ok(smolvm("machine", "stop", "--name", "agent1"))
    smolvm.ok(smolvm("machine", "start", "--name", "agent1"))
    assert smolvm("machine", "exec", "--name", "agent1", "--", "true", **env).returncode == 1
