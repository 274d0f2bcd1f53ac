# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible_collections.bot_bottle.smolmachines.plugins.modules import bottle_alias_info

PREFIX = "bot-bottle-sidecars-"


@pytest.fixture
def run(run_module):
    return lambda args: run_module(bottle_alias_info, args)


def test_the_pool_with_bound_leased_and_free_aliases(run, docker, paths, tmp_path):
    docker.show((PREFIX + "a", "127.0.0.17"), (PREFIX + "z", "127.0.0.99"))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "leases.json").write_text(json.dumps(
        {"version": 1, "leases": [{"slug": "b", "alias": "127.0.0.16", "expires_at": 4_000_000_000}]}))
    code, result = run(dict(last="127.0.0.18", **paths))
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


def test_an_empty_host_is_all_free_and_nothing_is_created(run, docker, paths, tmp_path):
    code, result = run(dict(paths))
    assert code == 0
    assert (result["free"], result["in_use"], len(result["aliases"])) == (16, 0, 16)
    assert not (tmp_path / "c").exists()


def test_a_bundle_on_every_address_fails_instead_of_reporting_free(run, docker, paths):
    docker.show((PREFIX + "wide", "0.0.0.0"))
    code, result = run(dict(paths))
    assert code == 1
    assert f"bundle container {PREFIX}wide publishes port 9099 on every host address (0.0.0.0)" in result["msg"]


def test_docker_unreachable_fails(run, paths, tmp_path):
    host = f"unix://{tmp_path}/dead.sock"
    code, result = run(dict(docker_host=host, **paths))
    assert code == 1
    assert result["msg"].startswith(f"cannot read the Docker engine at {host}: ")


def test_docker_sdk_missing_gives_the_usual_message(run, paths, monkeypatch):
    monkeypatch.setattr(bottle_alias_info, "HAS_DOCKER", False)
    code, result = run(dict(paths))
    assert code == 1
    assert "Failed to import the required Python library (docker)" in result["msg"]
