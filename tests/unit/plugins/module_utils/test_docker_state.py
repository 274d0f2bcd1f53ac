# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import uuid

import pytest
import requests
from docker.errors import APIError

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import (
    Bundle, BundleReader, DockerStateError, connection_params, docker_client,
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
    return BundleReader(FakeClient(entries), prefix).read()


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


# ---- reading the bundles --------------------------------------------------------------------

def test_one_list_call_with_an_anchored_escaped_name_filter_and_running_only():
    client = FakeClient([listed(PREFIX + "a", "127.0.0.16")])
    BundleReader(client, PREFIX).read()
    assert client.containers.calls == [dict(sparse=True, filters={"name": r"^/?bot\-bottle\-sidecars\-"})]


def test_bundles_with_their_addresses_and_slugs():
    bundles = read(listed(PREFIX + "b", "127.0.0.17", "127.0.0.17"), listed(PREFIX + "a", "127.0.0.16"))
    assert bundles == [Bundle(PREFIX + "a", "a", ["127.0.0.16"]), Bundle(PREFIX + "b", "b", ["127.0.0.17"])]


def test_slug_a_and_slug_a_1_are_different_bottles():
    bundles = read(listed(PREFIX + "a-1", "127.0.0.16"), listed(PREFIX + "a", "127.0.0.17"))
    assert {b.slug: b.aliases for b in bundles} == {"a": ("127.0.0.17",), "a-1": ("127.0.0.16",)}


def test_names_that_only_contain_the_prefix_are_not_bundles():
    # The engine's filter is an unanchored search in some versions; the comparison here is exact.
    bundles = read(listed("x" + PREFIX + "a", "127.0.0.16"), listed(PREFIX, "127.0.0.17"),
                   listed("other-" + "a", "127.0.0.18"), listed(PREFIX + "c", "127.0.0.19"))
    assert [b.name for b in bundles] == [PREFIX + "c"]


def test_link_aliases_in_names_are_not_the_container_name():
    attrs = listed(PREFIX + "a", "127.0.0.16")
    attrs["Names"] = ["/web/" + PREFIX + "zz", "/" + PREFIX + "a"]
    assert read(attrs)[0].slug == "a"


def test_exposed_but_unpublished_ports_bind_nothing():
    attrs = listed(PREFIX + "a", "127.0.0.16")
    attrs["Ports"].append({"PrivatePort": 7777, "Type": "tcp"})
    assert read(attrs) == [Bundle(PREFIX + "a", "a", ["127.0.0.16"])]


def test_a_bundle_publishing_nothing_holds_no_alias():
    assert read(listed(PREFIX + "a")) == [Bundle(PREFIX + "a", "a", [])]


def test_a_prefix_with_regex_characters_is_escaped():
    client = FakeClient([listed("my.bundles_x", "127.0.0.16"), listed("myXbundles_x", "127.0.0.17")])
    bundles = BundleReader(client, "my.bundles_").read()
    assert client.containers.calls[0]["filters"] == {"name": r"^/?my\.bundles\_"}
    assert [b.slug for b in bundles] == ["x"]


@pytest.mark.parametrize("address", ["0.0.0.0", "::"])
def test_a_bundle_published_on_every_address_fails_closed(address):
    with pytest.raises(DockerStateError) as caught:
        read(listed(PREFIX + "a", "127.0.0.16"), listed(PREFIX + "wide", address))
    message = str(caught.value)
    assert f"bundle container {PREFIX}wide publishes port 9099 on every host address ({address})" in message
    assert "Recreate it publishing on its alias only" in message


@pytest.mark.parametrize("address", ["::1", "", None, "fe80::1"])
def test_a_binding_that_is_not_ipv4_fails_closed(address):
    attrs = listed(PREFIX + "v6", "127.0.0.16")
    attrs["Ports"][0]["IP"] = address
    with pytest.raises(DockerStateError) as caught:
        read(attrs)
    assert f"bundle container {PREFIX}v6 publishes port 9099 on {address!r}, which is not an IPv4" in str(
        caught.value)


@pytest.mark.parametrize("ports", [None, "8080", {"IP": "127.0.0.16"}])
def test_unreadable_ports_fail_closed_naming_the_container(ports):
    attrs = listed(PREFIX + "odd")
    if ports is None:
        del attrs["Ports"]
    else:
        attrs["Ports"] = ports
    with pytest.raises(DockerStateError) as caught:
        read(attrs)
    assert f"the published ports of bundle container {PREFIX}odd cannot be read" in str(caught.value)


def test_an_unreadable_port_entry_fails_closed():
    attrs = listed(PREFIX + "odd", "127.0.0.16")
    attrs["Ports"].append("127.0.0.17:80")
    with pytest.raises(DockerStateError) as caught:
        read(attrs)
    assert f"bundle container {PREFIX}odd has a port entry that cannot be read" in str(caught.value)


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
    reader = BundleReader(FakeClient(error=error), PREFIX, "unix:///tmp/engine.sock")
    with pytest.raises(DockerStateError) as caught:
        reader.read()
    assert str(caught.value).startswith(f"cannot read the Docker engine at unix:///tmp/engine.sock: {error}")


@pytest.mark.parametrize("prefix", ["", "-x", "a b", "a/b"])
def test_a_prefix_that_cannot_start_a_container_name_is_refused(prefix):
    with pytest.raises(DockerStateError) as caught:
        BundleReader(FakeClient(), prefix)
    assert f"prefix={prefix!r} cannot start a container name" in str(caught.value)


# ---- against the real engine: the filter the engine really applies ---------------------------

def test_the_real_engine_accepts_the_escaped_filter_and_the_reading_is_exact(engine, bundle_image):
    prefix = f"hx{uuid.uuid4().hex[:8]}.s_c-"
    names = {prefix + "a": "127.0.0.201", prefix + "a-1": "127.0.0.202", "x" + prefix + "b": "127.0.0.203",
             prefix.replace(".", "Z") + "c": "127.0.0.204"}
    created = []
    try:
        for name, address in names.items():
            created.append(engine.containers.run(bundle_image, name=name, detach=True,
                                                 ports={"9099/tcp": (address, None)}))
        bundles = BundleReader(engine, prefix, os.environ["DOCKER_HOST"]).read()
    finally:
        for container in created:
            container.remove(force=True)
    assert bundles == [Bundle(prefix + "a", "a", ["127.0.0.201"]), Bundle(prefix + "a-1", "a-1", ["127.0.0.202"])]
