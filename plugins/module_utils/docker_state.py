# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Docker engine says about the bottles' sidecar bundles: which loopback alias each
running bundle container publishes its ports on.

Everything is read with ONE list call however many bundles run: the list endpoint already carries
each container's published ports, so no per-container inspect is needed. Anything that prevents a
complete, trustworthy reading raises DockerStateError: the caller must never mistake "could not
read" for "nothing in use" (the original allocator did, and handed out taken aliases).

Decisions:
- Only containers the engine lists by default count: running ones, paused ones included (they
  keep their ports). A stopped bundle holds no alias, as in bot-bottle itself.
- A bundle published on every address (0.0.0.0 or ::) listens on every loopback alias, so while it
  runs no bottle can be confined to an alias of its own: the reading fails, naming it.
- A published address that is not IPv4 cannot be placed against the pool: the reading fails.
- An IPv4 address outside the pool is recorded; it takes nothing from the pool.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import sys

from ansible.module_utils.basic import env_fallback

# Importing the SDK (with requests and urllib3) costs about 80 ms, most of what bottle_alias costs
# over ansible.builtin.ping (docs/performance.md). A release (state=absent) never talks to Docker,
# so the SDK is imported only when a client is built; finding it is enough to know it is installed.
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
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
# Addresses that mean "every address of the host": a port published there is reachable on every
# loopback alias, so no bottle's /32 would be its own.
_WILDCARDS = ("0.0.0.0", "::")


class DockerStateError(Exception):
    """Docker could not be read completely; the message says what failed and what to do."""


def is_valid_name(value: str) -> bool:
    return bool(_NAME_RE.match(value or ""))


def check_prefix(prefix: str) -> None:
    if not is_valid_name(prefix):
        raise DockerStateError(
            f"prefix={prefix!r} cannot start a container name; expected letters, digits, '_', '.' "
            f"or '-', starting with a letter or digit, such as {DEFAULT_PREFIX}")


def _go_regexp_escape(text: str) -> str:
    # The engine's name filter is a Go regular expression; Go accepts a backslash before any
    # punctuation, so escaping every non-alphanumeric character is always safe.
    return "".join(c if c.isalnum() else "\\" + c for c in text)


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


class Bundle:
    """One running bundle container and the host addresses its ports are published on."""

    __slots__ = ("name", "slug", "aliases")

    def __init__(self, name: str, slug: str, aliases):
        self.name = name
        self.slug = slug
        self.aliases = tuple(sorted(set(aliases), key=ipaddress.IPv4Address))

    def __repr__(self):
        return f"Bundle({self.name!r}, {self.slug!r}, {self.aliases!r})"

    def __eq__(self, other):
        return isinstance(other, Bundle) and (self.name, self.slug, self.aliases) == (
            other.name, other.slug, other.aliases)

    def __hash__(self):
        return hash((self.name, self.slug, self.aliases))


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


def _published_addresses(name: str, attrs: dict) -> list[str]:
    ports = attrs.get("Ports")
    if not isinstance(ports, list):
        raise DockerStateError(
            f"the published ports of bundle container {name} cannot be read (the engine listed "
            f"Ports={ports!r}); its alias is unknown, so no alias is handed out. Inspect it with "
            f"`docker inspect {name}`, or stop it")
    addresses = []
    for port in ports:
        if not isinstance(port, dict):
            raise DockerStateError(
                f"bundle container {name} has a port entry that cannot be read ({port!r}); no alias "
                f"is handed out. Inspect it with `docker inspect {name}`, or stop it")
        if "PublicPort" not in port and "IP" not in port:
            continue  # exposed but not published: binds no host address
        host_ip = port.get("IP")
        if host_ip in _WILDCARDS:
            raise DockerStateError(
                f"bundle container {name} publishes port {port.get('PrivatePort')} on every host "
                f"address ({host_ip}), so it is reachable on every loopback alias and no bottle can be "
                f"confined to an alias of its own. Recreate it publishing on its alias only "
                f"(-p <alias>::<port>), or stop it")
        try:
            address = ipaddress.IPv4Address(str(host_ip))
        except ValueError:
            raise DockerStateError(
                f"bundle container {name} publishes port {port.get('PrivatePort')} on {host_ip!r}, "
                f"which is not an IPv4 address; bottles are confined to IPv4 loopback aliases, so this "
                f"binding cannot be placed. Recreate it publishing on its alias, or stop it") from None
        addresses.append(str(address))
    return addresses


class BundleReader:
    """Reads the running bundle containers whose names start with `prefix`."""

    def __init__(self, client, prefix: str = DEFAULT_PREFIX, docker_host: str = ""):
        check_prefix(prefix)
        self.client = client
        self.prefix = prefix
        self.docker_host = docker_host

    def read(self) -> list[Bundle]:
        """Every running bundle container, with its published addresses, from ONE list call."""
        try:
            containers = self.client.containers.list(
                sparse=True, filters={"name": "^/?" + _go_regexp_escape(self.prefix)})
        except _docker_errors() + (OSError, ValueError) as exc:
            raise DockerStateError(unreachable_message(self.docker_host or "the configured host", exc)) from exc
        bundles = []
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
            # The engine's filter is a search, not a prefix match: compare exactly here.
            if not name.startswith(self.prefix) or len(name) == len(self.prefix):
                continue
            bundles.append(Bundle(name, name[len(self.prefix):], _published_addresses(name, attrs)))
        return sorted(bundles, key=lambda b: b.name)
