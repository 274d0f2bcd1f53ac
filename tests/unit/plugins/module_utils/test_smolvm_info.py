# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""machine_infos against a fake `machine ls --json` and a real SQLite file with smolvm's schema."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import (
    MachineSpecError, SmolvmCli, SmolvmOutputError, backend_with_allowlist,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_db import (
    SmolvmRecordError,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_info import machine_infos

EXE = "/opt/smolvm/bin/smolvm"


def make_db(path, records):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE vms (name TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL)")
    for record in records:
        data = record if isinstance(record, tuple) else (record["name"], json.dumps(record).encode())
        conn.execute("INSERT INTO vms VALUES (?, ?)", data)
    conn.close()
    return str(path)


def cli(version, listed):
    calls = []

    def run(argv):
        calls.append(argv)
        assert argv == [EXE, "machine", "ls", "--json"]
        return 0, json.dumps(listed), ""
    made = SmolvmCli(EXE, run, version)
    made.calls = calls
    return made


def shown(name, state="created", pid=None, **extra):
    return dict({"name": name, "state": state, "pid": pid, "cpus": 4, "network": True}, **extra)


@pytest.mark.parametrize("version, backend", [
    ((0, 8, 0), "tsi"), ((1, 1, 2), "tsi"), ((1, 1, 3), "virtio-net"), ((1, 32, 2), "virtio-net"),
])
def test_the_backend_a_machine_with_an_allowlist_gets(version, backend):
    assert backend_with_allowlist(version) == backend


def test_every_machine_with_its_stored_policy_sorted_by_name_at_1_9_1(tmp_path):
    db = make_db(tmp_path / "smolvm.db", [
        {"name": "b", "state": "stopped", "network": True, "allowed_cidrs": ["198.18.0.16/32"],
         "network_backend": "virtio-net"},
        {"name": "a", "state": "running", "pid": 77, "network": False, "allowed_cidrs": None},
    ])
    result = machine_infos(cli((1, 9, 1), [shown("b", "stopped", labels={"k": "v"}),
                                           shown("a", "running", 77, labels={})]), db, 1)
    assert result == {
        "smolvm_version": "1.9.1", "backend_with_allowlist": "virtio-net",
        "machines": [
            {"name": "a", "state": "running", "pid": 77, "labels": {}, "allowed_cidrs": None,
             "network": False, "egress": {}},
            {"name": "b", "state": "stopped", "pid": None, "labels": {"k": "v"},
             "allowed_cidrs": ["198.18.0.16/32"], "network": True,
             "egress": {"network_backend": "virtio-net"}},
        ]}


def test_filters_by_name_and_by_every_label(tmp_path):
    db = make_db(tmp_path / "smolvm.db", [
        {"name": n, "network": True, "allowed_cidrs": ["10.0.0.0/8"]} for n in ("a", "b", "c")])
    listed = [shown("a", labels={"slug": "x", "team": "ml"}), shown("b", labels={"slug": "x"}),
              shown("c", labels={})]
    by_label = machine_infos(cli((1, 9, 1), listed), db, 1, labels={"slug": "x", "team": "ml"})
    assert [m["name"] for m in by_label["machines"]] == ["a"]
    assert [m["name"] for m in machine_infos(cli((1, 9, 1), listed), db, 1, labels={"slug": "x"})
            ["machines"]] == ["a", "b"]
    assert [m["name"] for m in machine_infos(cli((1, 9, 1), listed), db, 1, name="c")["machines"]] == ["c"]
    assert machine_infos(cli((1, 9, 1), listed), db, 1, name="zz")["machines"] == []


def test_no_machine_asked_for_means_the_db_is_not_opened(tmp_path):
    result = machine_infos(cli((1, 9, 1), [shown("a")]), str(tmp_path / "no.db"), 1, name="zz")
    assert result["machines"] == []
    assert not (tmp_path / "no.db").exists()


def test_a_labels_filter_is_refused_before_1_8_0(tmp_path):
    made = cli((1, 7, 7), [])
    with pytest.raises(MachineSpecError) as caught:
        machine_infos(made, str(tmp_path / "smolvm.db"), 1, labels={"slug": "x"})
    assert str(caught.value) == ("labels={'slug': 'x'} cannot filter machines of smolvm 1.7.7: it "
                                 "has no labels (they exist from 1.8.0); filter by name, or "
                                 "upgrade smolvm")
    assert made.calls == []


@pytest.mark.parametrize("labels", [{"slug": True}, {"a=b": "c"}])
def test_a_bad_labels_filter_names_the_value(tmp_path, labels):
    with pytest.raises(MachineSpecError) as caught:
        machine_infos(cli((1, 32, 2), []), str(tmp_path / "smolvm.db"), 1, labels=labels)
    assert repr(list(labels)[0])[1:-1] in str(caught.value)


def test_the_shown_allowlist_is_returned_at_1_32_2_when_it_agrees_with_the_db(tmp_path):
    db = make_db(tmp_path / "smolvm.db", [
        {"name": "a", "network": True, "allowed_cidrs": ["10.0.0.0/8", "198.18.0.16/32"]},
        {"name": "b", "network": True, "allowed_cidrs": None}])
    result = machine_infos(cli((1, 32, 2), [
        shown("a", allowed_cidrs=["198.18.0.16/32", "10.0.0.0/8"]), shown("b")]), db, 1)
    assert [m["allowed_cidrs"] for m in result["machines"]] == [["198.18.0.16/32", "10.0.0.0/8"], None]


@pytest.mark.parametrize("listed, stored", [
    (["198.18.0.16/32"], ["198.18.0.17/32"]),
    (None, ["198.18.0.16/32"]),
    (["198.18.0.16/32"], None),
])
def test_a_shown_allowlist_that_differs_from_the_db_fails_closed(tmp_path, listed, stored):
    db = make_db(tmp_path / "smolvm.db", [{"name": "a", "network": True, "allowed_cidrs": stored}])
    extra = {} if listed is None else {"allowed_cidrs": listed}
    with pytest.raises(SmolvmOutputError) as caught:
        machine_infos(cli((1, 32, 2), [shown("a", **extra)]), db, 1)
    assert str(caught.value).startswith(
        f"`smolvm machine ls --json` shows machine 'a' with allowed_cidrs {listed!r}, but its row "
        f"in {db} holds {stored!r}: smolvm reads another database")


def test_a_listed_machine_without_a_row_fails_closed(tmp_path):
    db = make_db(tmp_path / "smolvm.db", [{"name": "other"}])
    with pytest.raises(SmolvmOutputError) as caught:
        machine_infos(cli((1, 9, 1), [shown("a")]), db, 1)
    assert str(caught.value).startswith(
        f"`smolvm machine ls --json` lists machine 'a', but the database {db} has no row for it")


def test_a_record_smolvm_could_not_read_fails_closed(tmp_path):
    db = make_db(tmp_path / "smolvm.db", [("a", '{"name": "a"}')])  # TEXT, not BLOB
    with pytest.raises(SmolvmRecordError):
        machine_infos(cli((1, 9, 1), [shown("a")]), db, 1)


def test_a_negative_db_timeout_is_refused(tmp_path):
    with pytest.raises(MachineSpecError) as caught:
        machine_infos(cli((1, 9, 1), []), str(tmp_path / "x.db"), -1)
    assert "db_timeout=-1" in str(caught.value)
