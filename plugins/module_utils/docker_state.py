# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Docker engine says about host addresses: which address every running container
publishes its ports on, and which of those containers are the bottles' sidecar bundles.

One list call reads every container's published ports. Anything short of a complete reading
raises DockerStateError: "could not read" must never pass for "nothing in use".

Decisions:
- Every container the engine lists by default counts, not only bundles: running ones, paused ones
  included (they keep their ports). A container publishing on a pool address holds it, whatever
  its name. A stopped container holds no address, as in bot-bottle itself.
- A port published on every address (0.0.0.0, ::, or no address) is recorded as such: the
  allocator refuses to hand out any address while it runs, because every bottle would reach it.
- An IPv4-mapped IPv6 address counts as its IPv4 address; any other IPv6 address is recorded as
  "other": no bottle, confined to an IPv4 /32, reaches it.
- A published address that is not an IP address at all cannot be placed: the reading fails.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import sys

from ansible.module_utils.basic import env_fallback

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.errors import BottleError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.text_input import (
    TextInputError, check_plain_text,
)

# The SDK import costs ~80 ms and a release never talks to Docker: import it only to build a client.
HAS_DOCKER = importlib.util.find_spec("docker") is not None
DOCKER_IMPORT_ERROR = None if HAS_DOCKER else "ModuleNotFoundError: No module named 'docker'"


def _sdk():
    """The docker package, imported on first use."""
    import docker  # pylint: disable=import-outside-toplevel
    return docker


def _docker_errors() -> tuple:
    """The SDK's base exception, once the SDK is imported (nothing can raise it before)."""
    docker = sys.modules.get("docker")
    errors = getattr(docker, "errors", None)
    return (errors.DockerException,) if errors is not None else ()


DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_PREFIX = "bot-bottle-sidecars-"

# The options and environment fallbacks of community.docker's DOCKER_COMMON_ARGS, minus the ones
# this collection has no use for (use_ssh_client, debug).
DOCKER_ARGUMENT_SPEC = dict(
    docker_host=dict(type="str", default=DEFAULT_DOCKER_HOST, fallback=(env_fallback, ["DOCKER_HOST"]),
                     aliases=["docker_url"]),
    tls_hostname=dict(type="str", fallback=(env_fallback, ["DOCKER_TLS_HOSTNAME"])),
    api_version=dict(type="str", default="auto", fallback=(env_fallback, ["DOCKER_API_VERSION"]),
                     aliases=["docker_api_version"]),
    timeout=dict(type="int", default=DEFAULT_TIMEOUT_SECONDS, fallback=(env_fallback, ["DOCKER_TIMEOUT"])),
    ca_path=dict(type="path", aliases=["ca_cert", "tls_ca_cert", "cacert_path"]),
    client_cert=dict(type="path", aliases=["tls_client_cert", "cert_path"]),
    client_key=dict(type="path", aliases=["tls_client_key", "key_path"]),
    tls=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS"])),
    validate_certs=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS_VERIFY"]),
                        aliases=["tls_verify"]),
)

DOCKER_REQUIRED_TOGETHER = [("client_cert", "client_key")]

# Docker's own rule for container names; a prefix plus a slug must make one.
_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


class DockerStateError(BottleError):
    """Docker could not be read completely; the message says what failed and what to do."""


def is_valid_name(value) -> bool:
    # fullmatch: a `$`-anchored match would let a trailing newline through.
    return isinstance(value, str) and bool(_NAME_RE.fullmatch(value))


def check_name(option, value, error, purpose, example) -> None:
    """Raise `error` unless `value` is plain text that can serve as a Docker or smolvm name."""
    try:
        check_plain_text(option, value)
    except TextInputError as exc:
        raise error(str(exc)) from None
    if not is_valid_name(value):
        raise error(
            f"{option}={value!r} cannot {purpose}; expected letters, digits, '_', '.' or '-', "
            f"starting with a letter or digit, such as {example}")


def check_prefix(prefix) -> None:
    check_name("prefix", prefix, DockerStateError, "start a container name", DEFAULT_PREFIX)


def _sdk_major() -> int:
    try:
        return int(str(_sdk().__version__).split(".", 1)[0])
    except (ImportError, ValueError):
        return 0


def connection_params(params: dict, environ=None) -> dict:
    """Keyword arguments for docker.DockerClient from the module's Docker options, resolved as
    community.docker resolves them (DOCKER_CERT_PATH supplies missing certificate paths)."""
    environ = os.environ if environ is None else environ
    cert_dir = environ.get("DOCKER_CERT_PATH")

    def cert(option, filename):
        if params.get(option):
            return params[option]
        return os.path.join(cert_dir, filename) if cert_dir else None

    ca_path, client_cert, client_key = cert("ca_path", "ca.pem"), cert("client_cert", "cert.pem"), \
        cert("client_key", "key.pem")
    docker_host = params.get("docker_host") or DEFAULT_DOCKER_HOST
    timeout = params.get("timeout")
    result = dict(base_url=docker_host, version=params.get("api_version") or "auto",
                  timeout=DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout)
    tls_hostname = params.get("tls_hostname")
    if tls_hostname and _sdk_major() >= 7:
        raise DockerStateError(
            f"tls_hostname={tls_hostname!r} is not supported by Docker SDK for Python 7.0.0 or newer "
            f"(as in community.docker); remove it, the SDK checks the host name against the certificate")
    if params.get("validate_certs") or params.get("tls"):
        result["base_url"] = docker_host.replace("tcp://", "https://")
        verify = bool(params.get("validate_certs"))
        tls = dict(verify=verify)
        if client_cert and client_key:
            tls["client_cert"] = (client_cert, client_key)
        if verify and ca_path:
            tls["ca_cert"] = ca_path
        if verify and tls_hostname:
            tls["assert_hostname"] = tls_hostname
        result["tls"] = tls
    return result


def docker_client(params: dict, environ=None):
    """A docker.DockerClient for the module's Docker options.

    With api_version=auto this asks the engine for its version, so an engine that does not answer
    is reported here, before any lock or lease file is touched.
    """
    if not HAS_DOCKER:
        raise DockerStateError("the Docker SDK for Python (the 'docker' package) is not installed")
    kwargs = connection_params(params, environ)
    try:
        docker = _sdk()
    except ImportError as exc:
        raise DockerStateError(
            f"the Docker SDK for Python (the 'docker' package) is installed but cannot be imported: {exc}; "
            f"reinstall it with its dependencies (pip install docker)") from exc
    try:
        if "tls" in kwargs:
            kwargs["tls"] = docker.tls.TLSConfig(**kwargs["tls"])
        return docker.DockerClient(**kwargs)
    except _docker_errors() + (OSError, ValueError) as exc:
        raise DockerStateError(unreachable_message(kwargs["base_url"], exc)) from exc


def unreachable_message(docker_host: str, exc: Exception) -> str:
    return (f"cannot read the Docker engine at {docker_host}: {exc}. No alias is handed out without "
            f"checking Docker; make sure the engine runs and docker_host (or DOCKER_HOST) names it")


class Publisher:
    """One running container and the host addresses its ports are published on.

    `slug` is the bottle it belongs to when its name is the bundle prefix followed by a slug, None
    for any other container. `addresses` are IPv4; `everywhere` lists the ports published on every
    address; `other` the non-IPv4 addresses (no IPv4 pool address reaches them).
    """

    __slots__ = ("name", "slug", "addresses", "everywhere", "other")

    def __init__(self, name: str, slug, addresses=(), everywhere=(), other=()):
        self.name = name
        self.slug = slug
        self.addresses = tuple(sorted(set(addresses), key=ipaddress.IPv4Address))
        self.everywhere = tuple(everywhere)
        self.other = tuple(sorted(set(other)))

    def _key(self):
        return (self.name, self.slug, self.addresses, self.everywhere, self.other)

    def __repr__(self):
        return f"Publisher{self._key()!r}"

    def __eq__(self, other):
        return isinstance(other, Publisher) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())


def _container_name(attrs: dict) -> str | None:
    # "Names" holds "/name", plus "/other/alias" entries for legacy links; only the first kind is
    # the container's own name.
    names = attrs.get("Names")
    if not isinstance(names, list):
        return None
    for name in names:
        if isinstance(name, str) and name.count("/") <= 1:
            return name.lstrip("/")
    return None


def _publisher(name: str, slug, attrs: dict) -> Publisher:
    ports = attrs.get("Ports")
    if not isinstance(ports, list):
        raise DockerStateError(
            f"the published ports of container {name} cannot be read (the engine listed "
            f"Ports={ports!r}); the addresses it holds are unknown, so no alias is handed out. Inspect "
            f"it with `docker inspect {name}`, or stop it")
    addresses, everywhere, other = [], [], []
    for port in ports:
        if not isinstance(port, dict):
            raise DockerStateError(
                f"container {name} has a port entry that cannot be read ({port!r}); no alias is handed "
                f"out. Inspect it with `docker inspect {name}`, or stop it")
        if "PublicPort" not in port:
            continue  # exposed but not published: binds no host address
        host_ip = port.get("IP")
        described = f"{port.get('PublicPort')}->{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
        if host_ip in (None, ""):
            everywhere.append(f"{described} on every address")
            continue
        try:
            address = ipaddress.ip_address(str(host_ip))
        except ValueError:
            raise DockerStateError(
                f"container {name} publishes port {described} on {host_ip!r}, which is not an IP "
                f"address, so the addresses it holds are unknown and no alias is handed out. Inspect "
                f"it with `docker inspect {name}`, or stop it") from None
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_unspecified:
            everywhere.append(f"{described} on {host_ip}")
        elif address.version == 4:
            addresses.append(str(address))
        else:
            other.append(str(address))
    return Publisher(name, slug, addresses, everywhere, other)


class PublisherReader:
    """Reads every running container with its published addresses; names the bundles among them
    (their name is `prefix` followed by the bottle's slug)."""

    def __init__(self, client, prefix: str = DEFAULT_PREFIX, docker_host: str = ""):
        check_prefix(prefix)
        self.client = client
        self.prefix = prefix
        self.docker_host = docker_host

    def read(self) -> list[Publisher]:
        """Every running container, with its published addresses, from ONE list call."""
        try:
            containers = self.client.containers.list(sparse=True)
        except _docker_errors() + (OSError, ValueError) as exc:
            raise DockerStateError(unreachable_message(self.docker_host or "the configured host", exc)) from exc
        publishers = []
        for container in containers:
            attrs = getattr(container, "attrs", None)
            if not isinstance(attrs, dict):
                raise DockerStateError(
                    f"the engine listed a container that cannot be read ({container!r}); no alias is "
                    f"handed out. Check the engine with `docker ps`")
            name = _container_name(attrs)
            if name is None:
                raise DockerStateError(
                    f"the engine listed container {attrs.get('Id', '?')} without a readable name "
                    f"(Names={attrs.get('Names')!r}); no alias is handed out")
            slug = name[len(self.prefix):] if name.startswith(self.prefix) and len(name) > len(self.prefix) else None
            publishers.append(_publisher(name, slug, attrs))
        return sorted(publishers, key=lambda p: p.name)
