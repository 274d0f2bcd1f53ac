# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bot_bottle.smolmachines.plugins.modules import bottle_alias_info

PREFIX = "bot-bottle-sidecars-"


class FakeContainer:
    def __init__(self, attrs):
        self.attrs = attrs


class FakeClient:
    def __init__(self, *entries):
        self.entries = list(entries)
        self.containers = self

    def list(self, **kwargs):
        return [FakeContainer(attrs) for attrs in self.entries]


def listed(name, address):
    return {"Id": name, "Names": ["/" + name], "State": "running",
            "Ports": [{"IP": address, "PrivatePort": 9099, "PublicPort": 32768, "Type": "tcp"}]}


@pytest.fixture
def docker(monkeypatch):
    state = dict(client=FakeClient())
    monkeypatch.setattr(bottle_alias_info, "docker_client", lambda params: state["client"])
    return state


@pytest.fixture
def paths(tmp_path):
    return dict(lock_path=str(tmp_path / "c" / "smolmachines.lock"),
                lease_path=str(tmp_path / "c" / "leases.json"))


def run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            bottle_alias_info.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


def test_the_pool_with_bound_leased_and_free_aliases(docker, paths, capsys, tmp_path):
    docker["client"] = FakeClient(listed(PREFIX + "a", "127.0.0.17"), listed(PREFIX + "z", "127.0.0.99"))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "leases.json").write_text(json.dumps(
        {"version": 1, "leases": [{"slug": "b", "alias": "127.0.0.16", "expires_at": 4_000_000_000}]}))
    code, result = run(dict(last="127.0.0.18", **paths), capsys)
    assert code == 0
    assert result["changed"] is False
    assert result["aliases"] == [
        dict(alias="127.0.0.16", status="leased", slug="b", container=None, expires_at=4_000_000_000),
        dict(alias="127.0.0.17", status="bound", slug="a", container=PREFIX + "a", expires_at=None),
        dict(alias="127.0.0.18", status="free", slug=None, container=None, expires_at=None),
    ]
    assert (result["free"], result["in_use"]) == (1, 2)
    assert [entry["alias"] for entry in result["outside_pool"]] == ["127.0.0.99"]
    assert not (tmp_path / "c" / "smolmachines.lock").exists()


def test_an_empty_host_is_all_free_and_nothing_is_created(docker, paths, capsys, tmp_path):
    code, result = run(dict(paths), capsys)
    assert code == 0
    assert (result["free"], result["in_use"], len(result["aliases"])) == (16, 0, 16)
    assert not (tmp_path / "c").exists()


def test_a_bundle_on_every_address_fails_instead_of_reporting_free(docker, paths, capsys):
    docker["client"] = FakeClient(listed(PREFIX + "wide", "0.0.0.0"))
    code, result = run(dict(paths), capsys)
    assert code == 1
    assert f"bundle container {PREFIX}wide publishes port 9099 on every host address (0.0.0.0)" in result["msg"]


def test_docker_unreachable_fails(paths, capsys, tmp_path):
    host = f"unix://{tmp_path}/dead.sock"
    code, result = run(dict(docker_host=host, **paths), capsys)
    assert code == 1
    assert result["msg"].startswith(f"cannot read the Docker engine at {host}: ")


def test_docker_sdk_missing_gives_the_usual_message(paths, capsys, monkeypatch):
    monkeypatch.setattr(bottle_alias_info, "HAS_DOCKER", False)
    code, result = run(dict(paths), capsys)
    assert code == 1
    assert "Failed to import the required Python library (docker)" in result["msg"]
