# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottle_probe_targets filter: what a bottle's guest must reach (its own endpoints) and must
not (the other bundles', the host's loopback as the guest addresses it, the user's extra targets)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bot_bottle.smolmachines.plugins.filter.bottle_probe_targets import FilterModule

bottle_probe_targets = FilterModule().filters()["bottle_probe_targets"]

OWN = "bot-bottle-sidecars-a"


def bundle(name, *bindings):
    return {"Names": [f"/{name}"], "Ports": [dict(zip(("IP", "PrivatePort", "PublicPort", "Type"), b))
                                             for b in bindings]}


BUNDLES = [
    bundle(OWN, ("198.18.0.16", 9099, 40001, "tcp"), ("198.18.0.16", 9418, 40002, "tcp")),
    bundle("bot-bottle-sidecars-b", ("198.18.0.17", 8888, 40010, "tcp"), ("198.18.0.17", 53, 40011, "udp")),
]


@pytest.mark.parametrize("backend, loopback", [("virtio-net", "100.96.0.1"), ("tsi", "127.0.0.1")])
def test_the_guest_must_reach_its_own_ports_and_not_the_others_nor_the_host_loopback(backend, loopback):
    targets = bottle_probe_targets("198.18.0.16", {9099: 40001, 9418: "40002"}, containers=BUNDLES,
                                   own_container=OWN, backend=backend)

    assert targets == {
        "reachable": [{"host": "198.18.0.16", "port": 40001}, {"host": "198.18.0.16", "port": 40002}],
        "unreachable": [{"host": "198.18.0.17", "port": 40010},
                        {"host": loopback, "port": 40001}, {"host": loopback, "port": 40002}],
    }


def test_a_port_published_on_every_address_is_probed_at_the_bottles_own_address():
    others = [bundle("web", ("0.0.0.0", 80, 8080, "tcp"), ("::", 80, 8080, "tcp"))]

    targets = bottle_probe_targets("198.18.0.16", [40001], containers=others)

    assert targets["unreachable"] == [{"host": "198.18.0.16", "port": 8080}, {"host": "100.96.0.1", "port": 40001}]


def test_extra_unreachable_targets_come_last_and_duplicates_once():
    targets = bottle_probe_targets("198.18.0.16", [40001], containers=BUNDLES, own_container=OWN,
                                   unreachable=[{"host": "198.18.0.17", "port": "40010"},
                                                {"host": "10.0.0.1", "port": 22}])

    assert targets["unreachable"] == [{"host": "198.18.0.17", "port": 40010}, {"host": "100.96.0.1", "port": 40001},
                                      {"host": "10.0.0.1", "port": 22}]


def test_a_target_that_is_also_the_bottles_own_endpoint_fails_naming_it():
    with pytest.raises(AnsibleFilterError) as caught:
        bottle_probe_targets("198.18.0.16", [40001], unreachable=[{"host": "198.18.0.16", "port": 40001}])

    assert str(caught.value) == (
        "bottle_probe_targets: 198.18.0.16:40001 is both the bottle's own endpoint and one it must not reach "
        "(another bottle's, the host's loopback or bottle_probe_unreachable); the bottle cannot be proven confined")


@pytest.mark.parametrize("target", [{"host": "10.0.0.1"}, {"host": "", "port": 22}, {"host": " x", "port": 22},
                                    {"host": "10.0.0.1", "port": 70000}, "10.0.0.1:22"])
def test_a_bad_extra_target_fails_naming_it(target):
    with pytest.raises(AnsibleFilterError) as caught:
        bottle_probe_targets("198.18.0.16", [40001], unreachable=[target])

    assert str(caught.value).startswith("bottle_probe_targets: bottle_probe_unreachable[0]=")
    assert "must be {host: ADDRESS, port: PORT}" in str(caught.value)


@pytest.mark.parametrize("alias, ports, backend, expected", [
    ("", [1], "tsi", 'alias="" must be the bottle\'s address'),
    ("198.18.0.16", [], "tsi", "host_ports=[] must be the bottle's published host ports, at least one"),
    ("198.18.0.16", {9099: 0}, "tsi", "host_ports={\"9099\": 0} must be the bottle's published host ports, "
                                      "at least one"),
    ("198.18.0.16", [1], "slirp", 'backend="slirp" must be tsi or virtio-net'),
])
def test_a_call_the_role_never_makes_fails(alias, ports, backend, expected):
    with pytest.raises(AnsibleFilterError) as caught:
        bottle_probe_targets(alias, ports, backend=backend)

    assert str(caught.value) == f"bottle_probe_targets: {expected}"
