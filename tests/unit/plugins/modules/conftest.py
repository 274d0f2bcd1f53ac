# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the unit tests of the modules that read or hand out aliases."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils import alias_allocator

PREFIX = "bot-bottle-sidecars-"


class FakeContainer:
    def __init__(self, attrs):
        self.attrs = attrs


class FakeDocker:
    """The Docker client the modules build: its list endpoint shows the bundles given to show(),
    and it records the options each client was built from and how often it was asked."""

    def __init__(self):
        self.entries = []
        self.params = []
        self.calls = 0
        self.containers = self

    def show(self, *bound):
        """Running bundle containers, as (name, address) pairs publishing port 9099 on the address."""
        self.entries = [{"Id": name, "Names": ["/" + name], "State": "running",
                         "Ports": [{"IP": address, "PrivatePort": 9099, "PublicPort": 32768, "Type": "tcp"}]}
                        for name, address in bound]

    def list(self, **kwargs):
        self.calls += 1
        return [FakeContainer(attrs) for attrs in self.entries]


@pytest.fixture
def docker(monkeypatch):
    """Replaces the Docker client every alias module builds (through allocator_from_params)."""
    fake = FakeDocker()

    def client(params):
        fake.params.append(dict(params))
        return fake

    monkeypatch.setattr(alias_allocator, "docker_client", client)
    return fake


@pytest.fixture
def failures(monkeypatch):
    """The keyword arguments of every fail_json call: whether a traceback reaches the result
    depends on the controller's settings, what the module passes does not."""
    calls = []
    original = AnsibleModule.fail_json

    def recording(self, msg, **kwargs):
        calls.append(dict(kwargs, msg=msg))
        original(self, msg, **kwargs)

    monkeypatch.setattr(AnsibleModule, "fail_json", recording)
    return calls


@pytest.fixture
def paths(tmp_path):
    """A lock and a lease table in a directory that does not exist yet, and a smolvm DB that does not
    exist either (no machine)."""
    return dict(lock_path=str(tmp_path / "c" / "smolmachines.lock"),
                lease_path=str(tmp_path / "c" / "leases.json"),
                smolvm_db_path=str(tmp_path / "smolvm" / "smolvm.db"))


@pytest.fixture
def run_module(capsys):
    """Runs a module's main() with the given arguments; returns its exit code and its result."""
    def run(module, args):
        with patch_module_args(args):
            with pytest.raises(SystemExit) as caught:
                module.main()
        return caught.value.code, json.loads(capsys.readouterr().out)
    return run


@pytest.fixture
def smolvm_db():
    """Writes a smolvm state DB (smolvm's schema, records as BLOBs) with one stopped machine per
    keyword: name=[allowed CIDRs] (None: networking on, no allowlist)."""
    def make(path, **machines):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS vms (name TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL)")
            conn.execute("CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
            for name, cidrs in machines.items():
                record = {"name": name, "created_at": 1, "state": "stopped", "pid": None, "network": True,
                          "allowed_cidrs": cidrs}
                conn.execute("INSERT OR REPLACE INTO vms VALUES (?, ?)", (name, json.dumps(record).encode()))
        conn.close()
    return make
