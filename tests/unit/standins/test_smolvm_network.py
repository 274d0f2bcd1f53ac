# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stand-in's guest network model (tests/standins/smolvm_network.py), version by version, and
the stand-in's `machine exec -- nc -z` probe deciding from it against real listening sockets."""

from __future__ import annotations

import socket

import pytest

import smolvm_network as net
from smolvm_network import Route

V0_8, V1_1_2, V1_1_3, V1_9_1, V1_20_0, V1_32_2 = (0, 8, 0), (1, 1, 2), (1, 1, 3), (1, 9, 1), (1, 20, 0), (1, 32, 2)
POLICY = ["198.18.0.16/32"]


@pytest.mark.parametrize("version, network, allowed, requested, backend", [
    (V0_8, True, POLICY, None, net.TSI),          # up to 1.1.2 a policy forces TSI
    (V1_1_2, True, POLICY, "virtio-net", net.TSI),
    (V1_1_2, True, None, None, net.TSI),
    (V1_1_3, True, POLICY, None, net.VIRTIO_NET),  # from 1.1.3 any policy selects virtio-net
    (V1_32_2, True, POLICY, None, net.VIRTIO_NET),
    (V1_9_1, True, None, None, net.TSI),           # no policy: TSI
    (V1_9_1, True, [], None, net.TSI),             # an empty list is no policy
    (V1_9_1, True, None, "virtio-net", net.VIRTIO_NET),
    (V1_32_2, False, POLICY, None, None),          # no --net: no network at all
])
def test_the_backend_a_machine_gets(version, network, allowed, requested, backend):
    assert net.backend_for(version, network, allowed, requested) == backend


@pytest.mark.parametrize("version", [V1_1_3, V1_9_1, V1_32_2])
def test_tsi_with_a_policy_is_refused_from_1_1_3(version):
    with pytest.raises(net.BackendRefused):
        net.backend_for(version, True, POLICY, "tsi")


def test_tsi_with_an_empty_list_is_not_a_policy():
    assert net.backend_for(V1_32_2, True, [], "tsi") == net.TSI


@pytest.mark.parametrize("version", [V0_8, V1_1_2])
def test_under_tsi_a_guests_127_is_the_hosts_and_nothing_is_enforced(version):
    route = net.route(version, True, net.TSI, ["10.0.0.0/8"], "127.0.0.16")

    assert route == Route(net.DIALLED, net.ipaddress.ip_address("127.0.0.16"))


@pytest.mark.parametrize("version", [V1_1_3, V1_9_1, V1_32_2])
def test_under_virtio_net_127_stays_in_the_guest_even_when_allowlisted(version):
    route = net.route(version, True, net.VIRTIO_NET, ["127.0.0.16/32"], "127.0.0.16")

    assert route == Route(net.GUEST_LOOPBACK_HIT)
    assert not route.leaves_guest


@pytest.mark.parametrize("version, allow, expected", [
    (V1_9_1, False, Route(net.DIALLED, net.HOST_LOOPBACK)),      # the gateway is the host's 127.0.0.1
    (V1_20_0, False, Route(net.BLOCKED_HOST_LOOPBACK)),           # floored by default from 1.20
    (V1_32_2, False, Route(net.BLOCKED_HOST_LOOPBACK)),
    (V1_32_2, True, Route(net.DIALLED, net.HOST_LOOPBACK)),       # SMOLVM_ALLOW_HOST_LOOPBACK
])
def test_the_gateway_maps_to_the_hosts_loopback(version, allow, expected):
    route = net.route(version, True, net.VIRTIO_NET, ["100.96.0.1/32"], "100.96.0.1",
                      allow_host_loopback=allow)

    assert route == expected


@pytest.mark.parametrize("version", [V1_9_1, V1_32_2])
def test_the_gateway_must_itself_be_allowed(version):
    route = net.route(version, True, net.VIRTIO_NET, POLICY, "100.96.0.1", allow_host_loopback=True)

    assert route == Route(net.BLOCKED_BY_POLICY)


@pytest.mark.parametrize("version", [V1_1_3, V1_9_1, V1_32_2])
def test_under_virtio_net_the_allowlist_is_enforced_and_others_dialled_as_is(version):
    allowed = net.route(version, True, net.VIRTIO_NET, POLICY, "198.18.0.16")
    other = net.route(version, True, net.VIRTIO_NET, POLICY, "198.18.0.17")

    assert allowed == Route(net.DIALLED, net.ipaddress.ip_address("198.18.0.16"))
    assert other == Route(net.BLOCKED_BY_POLICY)


def test_virtio_net_without_a_policy_dials_anything_but_loopback():
    assert net.route(V1_9_1, True, net.VIRTIO_NET, None, "198.18.0.17").leaves_guest
    assert net.route(V1_9_1, True, net.VIRTIO_NET, [], "127.0.0.1") == Route(net.GUEST_LOOPBACK_HIT)


def test_no_network_reaches_nothing():
    assert net.route(V1_32_2, False, None, None, "127.0.0.1") == Route(net.NO_NETWORK)


# ---------------------------------------------------------------------------- the stand-in's probe

def _listen(address):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((address, 0))
    server.listen(8)
    return server


@pytest.fixture
def listener():
    """A real listening socket on the host's 127.0.0.1."""
    server = _listen("127.0.0.1")
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def alias_listener():
    """A real listening socket on the host's 127.0.0.16 (Linux routes all of 127/8 to lo)."""
    server = _listen("127.0.0.16")
    yield server.getsockname()[1]
    server.close()


def _launch(smolvm, version, *flags, **env):
    smolvm.ok(smolvm("machine", "create", "--name", "agent1", *flags, version=version))
    smolvm.ok(smolvm("machine", "start", "--name", "agent1", version=version, **env))


def _probe(smolvm, version, host, port):
    return smolvm("machine", "exec", "--name", "agent1", "--", "nc", "-z", "-w", "2", host,
                  str(port), version=version).returncode


def test_probe_under_tsi_reaches_the_hosts_127(smolvm, alias_listener):
    _launch(smolvm, "1.1.2", "--allow-cidr", "127.0.0.16")

    assert smolvm.boot("agent1")["network_backend"] == "tsi"
    assert _probe(smolvm, "1.1.2", "127.0.0.16", alias_listener) == 0


def test_probe_fails_when_nothing_listens(smolvm, listener):
    _launch(smolvm, "1.1.2", "--allow-cidr", "127.0.0.16")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()

    assert _probe(smolvm, "1.1.2", "127.0.0.16", port) == 1


def test_probe_under_virtio_net_never_reaches_the_hosts_127(smolvm, alias_listener):
    _launch(smolvm, "1.9.1", "--allow-cidr", "127.0.0.16")

    assert smolvm.boot("agent1")["network_backend"] == "virtio-net"
    assert _probe(smolvm, "1.9.1", "127.0.0.16", alias_listener) == 1


@pytest.mark.parametrize("version, env, expected", [
    ("1.9.1", {}, 0), ("1.32.2", {}, 1), ("1.32.2", {"SMOLVM_ALLOW_HOST_LOOPBACK": "1"}, 0)])
def test_probe_of_the_gateway(smolvm, listener, version, env, expected):
    _launch(smolvm, version, "--allow-cidr", "100.96.0.1", **env)

    assert _probe(smolvm, version, "100.96.0.1", listener) == expected


def test_probe_blocked_by_the_allowlist(smolvm, listener):
    _launch(smolvm, "1.32.2", "--allow-cidr", "198.18.0.16", SMOLVM_ALLOW_HOST_LOOPBACK="1")

    assert _probe(smolvm, "1.32.2", "100.96.0.1", listener) == 1
    assert _probe(smolvm, "1.32.2", "198.18.0.17", listener) == 1


def test_probe_without_net(smolvm, listener):
    _launch(smolvm, "1.9.1")

    assert _probe(smolvm, "1.9.1", "127.0.0.1", listener) == 1


def test_probe_needs_a_running_machine(smolvm, listener):
    smolvm.ok(smolvm("machine", "create", "--name", "agent1", "--net", version="1.9.1"))

    assert _probe(smolvm, "1.9.1", "127.0.0.1", listener) == 1
    assert smolvm.boot("agent1") is None


def test_an_allowlist_update_applies_live_at_1_32_2(smolvm, listener):
    _launch(smolvm, "1.32.2", "--allow-cidr", "198.18.0.16", SMOLVM_ALLOW_HOST_LOOPBACK="1")
    smolvm.ok(smolvm("machine", "update", "--name", "agent1", "--allow-cidr", "100.96.0.1",
                     version="1.32.2"))

    assert _probe(smolvm, "1.32.2", "100.96.0.1", listener) == 0
