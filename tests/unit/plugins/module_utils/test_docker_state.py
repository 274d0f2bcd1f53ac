# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import uuid

import pytest
import requests
from docker.errors import APIError

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
    DockerStateError, Publisher, PublisherReader, connection_params, docker_client,
)

PREFIX = "bot-bottle-sidecars-"


class FakeContainer:
    def __init__(self, attrs):
        self.attrs = attrs


class FakeContainers:
    def __init__(self, entries=(), error=None):
        self.entries = list(entries)
        self.error = error
        self.calls = []

    def list(self, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return [FakeContainer(attrs) for attrs in self.entries]


class FakeClient:
    def __init__(self, entries=(), error=None):
        self.containers = FakeContainers(entries, error)


def listed(name, *addresses, private=9099):
    """A container as the engine's list endpoint shows it, publishing one port per address."""
    ports = [{"IP": a, "PrivatePort": private + i, "PublicPort": 32768 + i, "Type": "tcp"}
             for i, a in enumerate(addresses)]
    return {"Id": uuid.uuid4().hex, "Names": ["/" + name], "Ports": ports, "State": "running"}


def read(*entries, prefix=PREFIX):
    return PublisherReader(FakeClient(entries), prefix).read()


def bundle(slug, *addresses):
    return Publisher(PREFIX + slug, slug, addresses)


# ---- connection options ---------------------------------------------------------------------

def test_defaults_give_the_local_socket_and_auto_version():
    assert connection_params({}, environ={}) == dict(
        base_url="unix:///var/run/docker.sock", version="auto", timeout=60)


def test_options_pass_through():
    params = dict(docker_host="unix:///tmp/x.sock", api_version="1.41", timeout=5)
    assert connection_params(params, environ={}) == dict(base_url="unix:///tmp/x.sock", version="1.41",
                                                         timeout=5)


def test_tls_without_verification_switches_to_https_and_uses_the_client_cert():
    params = dict(docker_host="tcp://192.0.2.23:2376", tls=True, client_cert="/c.pem", client_key="/k.pem",
                  ca_path="/ca.pem")
    assert connection_params(params, environ={}) == dict(
        base_url="https://192.0.2.23:2376", version="auto", timeout=60,
        tls=dict(verify=False, client_cert=("/c.pem", "/k.pem")))


def test_validate_certs_takes_the_certificates_from_docker_cert_path():
    params = dict(docker_host="tcp://192.0.2.23:2376", validate_certs=True, tls=True)
    result = connection_params(params, environ={"DOCKER_CERT_PATH": "/certs"})
    assert result["tls"] == dict(verify=True, client_cert=("/certs/cert.pem", "/certs/key.pem"),
                                 ca_cert="/certs/ca.pem")


def test_tls_hostname_is_refused_with_sdk_7_as_community_docker_does():
    with pytest.raises(DockerStateError) as caught:
        connection_params(dict(tls_hostname="docker.example"), environ={})
    assert "tls_hostname='docker.example' is not supported by Docker SDK for Python 7.0.0" in str(caught.value)


def test_an_engine_that_does_not_answer_is_an_error_naming_it(tmp_path):
    host = f"unix://{tmp_path}/dead.sock"
    with pytest.raises(DockerStateError) as caught:
        docker_client(dict(docker_host=host, timeout=5), environ={})
    assert f"cannot read the Docker engine at {host}" in str(caught.value)
    assert "No alias is handed out without checking Docker" in str(caught.value)


def test_a_nonsense_host_is_an_error_naming_it():
    with pytest.raises(DockerStateError) as caught:
        docker_client(dict(docker_host="bogus://x"), environ={})
    assert "cannot read the Docker engine at bogus://x" in str(caught.value)


# ---- reading every container ---------------------------------------------------------------

def test_one_list_call_for_every_running_container_whatever_its_name():
    # Issue 12: any container publishing on a pool address holds it, not only the bundles.
    client = FakeClient([listed(PREFIX + "a", "127.0.0.16"), listed("postgres", "127.0.0.17")])
    publishers = PublisherReader(client, PREFIX).read()
    assert client.containers.calls == [dict(sparse=True)]
    assert publishers == [bundle("a", "127.0.0.16"), Publisher("postgres", None, ["127.0.0.17"])]


def test_bundles_with_their_addresses_and_slugs():
    bundles = read(listed(PREFIX + "b", "127.0.0.17", "127.0.0.17"), listed(PREFIX + "a", "127.0.0.16"))
    assert bundles == [bundle("a", "127.0.0.16"), bundle("b", "127.0.0.17")]


def test_slug_a_and_slug_a_1_are_different_bottles():
    bundles = read(listed(PREFIX + "a-1", "127.0.0.16"), listed(PREFIX + "a", "127.0.0.17"))
    assert {b.slug: b.addresses for b in bundles} == {"a": ("127.0.0.17",), "a-1": ("127.0.0.16",)}


def test_names_that_only_contain_the_prefix_belong_to_no_bottle():
    publishers = read(listed("x" + PREFIX + "a", "127.0.0.16"), listed(PREFIX, "127.0.0.17"),
                      listed(PREFIX + "c", "127.0.0.19"))
    assert [(p.name, p.slug) for p in publishers] == [(PREFIX, None), (PREFIX + "c", "c"), ("x" + PREFIX + "a", None)]


def test_link_aliases_in_names_are_not_the_container_name():
    attrs = listed(PREFIX + "a", "127.0.0.16")
    attrs["Names"] = ["/web/" + PREFIX + "zz", "/" + PREFIX + "a"]
    assert read(attrs)[0].slug == "a"


def test_exposed_but_unpublished_ports_bind_nothing():
    attrs = listed(PREFIX + "a", "127.0.0.16")
    attrs["Ports"].append({"PrivatePort": 7777, "Type": "tcp"})
    assert read(attrs) == [bundle("a", "127.0.0.16")]


def test_a_bundle_publishing_nothing_holds_no_alias():
    assert read(listed(PREFIX + "a")) == [bundle("a")]


@pytest.mark.parametrize("address, shown", [("0.0.0.0", "on 0.0.0.0"), ("::", "on ::"), ("", "on every address"),
                                            (None, "on every address")])
def test_a_port_published_on_every_address_is_recorded_as_such(address, shown):
    attrs = listed("web", "127.0.0.16")
    attrs["Ports"].append({"IP": address, "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"})
    assert read(attrs) == [Publisher("web", None, ["127.0.0.16"], everywhere=[f"8080->80/tcp {shown}"])]


@pytest.mark.parametrize("address, expected", [
    ("::1", Publisher("v6", None, [], other=["::1"])),
    ("fe80::1", Publisher("v6", None, [], other=["fe80::1"])),
    ("::ffff:127.0.0.16", Publisher("v6", None, ["127.0.0.16"])),
])
def test_ipv6_bindings_are_other_unless_ipv4_mapped(address, expected):
    assert read(listed("v6", address)) == [expected]


def test_a_binding_that_is_no_ip_address_fails_closed():
    with pytest.raises(DockerStateError) as caught:
        read(listed("odd", "localhost"))
    assert "container odd publishes port 32768->9099/tcp on 'localhost', which is not an IP address" in str(caught.value)


@pytest.mark.parametrize("ports", [None, "8080", {"IP": "127.0.0.16"}])
def test_unreadable_ports_fail_closed_naming_the_container(ports):
    attrs = listed("odd")
    if ports is None:
        del attrs["Ports"]
    else:
        attrs["Ports"] = ports
    with pytest.raises(DockerStateError) as caught:
        read(attrs)
    assert "the published ports of container odd cannot be read" in str(caught.value)


def test_an_unreadable_port_entry_fails_closed():
    attrs = listed(PREFIX + "odd", "127.0.0.16")
    attrs["Ports"].append("127.0.0.17:80")
    with pytest.raises(DockerStateError) as caught:
        read(attrs)
    assert f"container {PREFIX}odd has a port entry that cannot be read" in str(caught.value)


def test_a_container_without_a_name_fails_closed():
    attrs = listed(PREFIX + "a", "127.0.0.16")
    attrs["Names"] = None
    with pytest.raises(DockerStateError) as caught:
        read(attrs)
    assert f"the engine listed container {attrs['Id']} without a readable name" in str(caught.value)


@pytest.mark.parametrize("error", [
    APIError("500 Server Error: Internal Server Error"),
    requests.exceptions.ConnectionError("Connection aborted."),
    requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)"),
])
def test_api_errors_are_never_nothing_in_use(error):
    reader = PublisherReader(FakeClient(error=error), PREFIX, "unix:///tmp/engine.sock")
    with pytest.raises(DockerStateError) as caught:
        reader.read()
    assert str(caught.value).startswith(f"cannot read the Docker engine at unix:///tmp/engine.sock: {error}")


@pytest.mark.parametrize("prefix", ["", "-x", "a b", "a/b"])
def test_a_prefix_that_cannot_start_a_container_name_is_refused(prefix):
    with pytest.raises(DockerStateError) as caught:
        PublisherReader(FakeClient(), prefix)
    assert f"prefix={prefix!r} cannot start a container name" in str(caught.value)


@pytest.mark.parametrize("prefix", [PREFIX + "\n", " " + PREFIX, PREFIX + "\t", PREFIX + " "])
def test_a_prefix_with_a_control_character_or_surrounding_space_is_refused(prefix):
    # Issue 12, item 5: a `$`-anchored check let "bot-bottle-sidecars-\n" through, hiding every bundle.
    with pytest.raises(DockerStateError) as caught:
        PublisherReader(FakeClient(), prefix)
    assert f"prefix={prefix!r}" in str(caught.value)
