# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the bottle role computes on the controller: the checks of its inputs, the bottle's
endpoints (host ports, URLs, guest environment) and the proof that the bundle publishes on the
bottle's address alone, and the message of a failed launch. Plain values in, plain values out."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.pool import (
    DEFAULT_FIRST, DEFAULT_LAST, AliasPool, PoolError,
)
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_cli import MachineSpecError
from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.smolvm_probe import parse_targets

# smolvm (0.x) accepts machine names of at most 40 ASCII letters, digits, '-' and '_', starting with
# a letter or digit; the VM is "bot-bottle-<slug>", which leaves 29. Docker accepts every such name.
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,28}", re.ASCII)
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*", re.ASCII)
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
# How the guest addresses the host's 127.0.0.1: as itself under TSI, through the relay's gateway
# under virtio-net (crates/smolvm-network/src/tcp_relay.rs host_connect_addr).
HOST_LOOPBACK_FROM_GUEST = {"tsi": "127.0.0.1", "virtio-net": "100.96.0.1"}
DURATIONS = ("bottle_lease_ttl", "bottle_wait_timeout", "bottle_smolvm_db_timeout")
SIZES = ("bottle_cpus", "bottle_mem")


class InputError(ValueError):
    """An input the launch cannot use; the message names the variable and its value."""


def as_json(value) -> str:
    """A value as the user wrote it in YAML or JSON, so a message shows null, "9099" and 9099 apart."""
    return json.dumps(value, sort_keys=True, default=str)


def whole_number(value):
    """An int, or a string of decimal digits (an extra var given on the command line); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip() == value and value.isascii() and value.isdigit():
        return int(value)
    return None


def seconds(value):
    """A finite number of seconds (int, float or a numeric string); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def tcp_ports(ports) -> list:
    """The bundle's container ports as distinct ints from 1 to 65535, at least one."""
    problem = None
    parsed = []
    if not isinstance(ports, list) or not ports:
        problem = "at least one"
    else:
        for port in ports:
            number = whole_number(port)
            if number is None or not 1 <= number <= 65535:
                problem = f"{as_json(port)} is not one"
                break
            if number in parsed:
                problem = f"{number} is given twice"
                break
            parsed.append(number)
    if problem:
        raise InputError(f"bottle_bundle_ports={as_json(ports)} must list distinct TCP ports from 1 to 65535, "
                         f"at least one ({problem})")
    return parsed


def url_specs(guest_url_env) -> dict:
    """bottle_guest_url_env as {name: (scheme, port)}: `NAME: PORT` or `NAME: {port: PORT, scheme: S}`."""
    if guest_url_env is None:
        return {}
    if not isinstance(guest_url_env, Mapping):
        raise InputError(f"bottle_guest_url_env={as_json(guest_url_env)} must be a mapping of guest variable "
                         f"names to a port or {{port: PORT, scheme: SCHEME}}")
    specs = {}
    for name, spec in guest_url_env.items():
        scheme, port = "http", spec
        if isinstance(spec, Mapping):
            scheme, port = spec.get("scheme", "http"), spec.get("port")
            unknown = sorted(set(spec) - {"port", "scheme"})
            if unknown:
                raise InputError(f"bottle_guest_url_env.{name}={as_json(spec)} has unknown keys {as_json(unknown)}; "
                                 f"expected port and scheme")
        number = whole_number(port)
        if number is None or not 1 <= number <= 65535:
            raise InputError(f"bottle_guest_url_env.{name}={as_json(spec)} needs a TCP port from 1 to 65535, "
                             f"for example {{port: 9418, scheme: git}}")
        if not isinstance(scheme, str) or not SCHEME.fullmatch(scheme):
            raise InputError(f"bottle_guest_url_env.{name}={as_json(spec)} has scheme {as_json(scheme)}; expected "
                             f"letters, digits, '+', '-' or '.', starting with a letter, for example git")
        specs[str(name)] = (scheme, number)
    return specs


def common_errors(inputs: Mapping) -> list:
    """What the teardown checks too: the slug names every part, the stop timeout is used."""
    errors = []
    slug = inputs.get("bottle_slug")
    if not isinstance(slug, str) or not SLUG.fullmatch(slug) or "--" in slug or slug.endswith("-"):
        errors.append(f"bottle_slug={as_json(slug)} cannot name the bottle's VM (bot-bottle-{slug}), container and "
                      f"network: expected 1 to 29 ASCII letters, digits, '-' or '_', starting with a letter or "
                      f"digit, not ending with '-' and without '--', for example researcher-m3hxd")
    stop_timeout = inputs.get("bottle_bundle_stop_timeout")
    if stop_timeout is not None:
        number = whole_number(stop_timeout)
        if number is None or number < 1:
            # community.docker's docker_container treats 0 as unset: Docker then waits its default 10 s.
            errors.append(f"bottle_bundle_stop_timeout={as_json(stop_timeout)} must be 1 or more seconds, or null "
                          f"for Docker's default (10 seconds or the image's StopTimeout): community.docker treats "
                          f"0 as unset, so Docker would wait 10 seconds before killing the bundle")
    return errors


def launch_errors(inputs: Mapping, smolmachine_stat=None, host: str = "the managed host") -> list:
    """Every problem with a launch's inputs beyond common_errors, each naming its value."""
    errors = []
    for name, what in (("bottle_smolmachine", "the packed .smolmachine the VM boots"),
                       ("bottle_bundle_image", "the sidecar bundle's image")):
        value = inputs.get(name)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{name}={as_json(value)} must be set to {what} to launch a bottle")
    smolmachine = inputs.get("bottle_smolmachine")
    if isinstance(smolmachine, str) and smolmachine.strip() and smolmachine_stat is not None:
        if not (smolmachine_stat.get("exists") and smolmachine_stat.get("isreg")):
            errors.append(f"bottle_smolmachine={smolmachine} is not a file on {host}; give the path of the "
                          f"packed .smolmachine the bottle's VM boots")
    try:
        ports = tcp_ports(inputs.get("bottle_bundle_ports"))
    except InputError as exc:
        errors.append(str(exc))
        ports = None
    proxy_port = inputs.get("bottle_proxy_port")
    if proxy_port is not None and ports is not None and whole_number(proxy_port) not in ports:
        errors.append(f"bottle_proxy_port={as_json(proxy_port)} must be one of bottle_bundle_ports={as_json(ports)}, "
                      f"or null for a bundle without a proxy")
    try:
        specs = url_specs(inputs.get("bottle_guest_url_env"))
    except InputError as exc:
        errors.append(str(exc))
        specs = {}
    for name, (_scheme, port) in specs.items():
        if ports is not None and port not in ports:
            errors.append(f"bottle_guest_url_env.{name} names port {port}, which is not one of "
                          f"bottle_bundle_ports={as_json(ports)}")
    no_proxy = inputs.get("bottle_no_proxy")
    if no_proxy is not None and (not isinstance(no_proxy, list) or not all(isinstance(h, str) and h for h in no_proxy)):
        errors.append(f"bottle_no_proxy={as_json(no_proxy)} must be a list of host names or addresses")
    guest_env = inputs.get("bottle_guest_env")
    if guest_env is not None and not isinstance(guest_env, Mapping):
        errors.append(f"bottle_guest_env={as_json(guest_env)} must be a mapping of variable names to values")
    for name in DURATIONS:
        value = seconds(inputs.get(name))
        if value is None or value <= 0 or (name != "bottle_smolvm_db_timeout" and value != int(value)):
            kind = "number" if name == "bottle_smolvm_db_timeout" else "whole number"
            errors.append(f"{name}={as_json(inputs.get(name))} must be a positive {kind} of seconds")
    for name in SIZES:
        value = inputs.get(name)
        if value is not None and (whole_number(value) or 0) < 1:
            errors.append(f"{name}={as_json(value)} must be a positive whole number, or null for smolvm's default")
    return errors


def pool_errors(inputs: Mapping, backend=None, smolvm_version=None) -> list:
    """The pool as bottle_alias would take it, and outside 127/8 when the VM gets virtio-net."""
    first, last = inputs.get("bottle_pool_first"), inputs.get("bottle_pool_last")
    try:
        pool = AliasPool(str(first), str(last))
    except PoolError as exc:
        return [f"bottle_pool_first={as_json(first)} and bottle_pool_last={as_json(last)}: {exc}"]
    # From smolvm 1.1.3 a VM with an allowlist runs on virtio-net, whose 127.0.0.0/8 is the guest's own.
    if backend == "virtio-net" and pool.loopback:
        installed = f"smolvm {smolvm_version}" if smolvm_version else "the installed smolvm"
        return [f"the pool {pool.first}-{pool.last} lies inside 127.0.0.0/8, but {installed} puts a VM with an allowlist on "
                f"the virtio-net backend (smolvm 1.1.3 and later), where the guest's 127.0.0.0/8 is its own "
                f"loopback: the guest could not reach its sidecars on the host. Set bottle_pool_first and "
                f"bottle_pool_last to a range outside 127.0.0.0/8 that the host holds on its loopback interface, "
                f"for example the default {DEFAULT_FIRST}-{DEFAULT_LAST} (the role adds it to lo with bottle_pool_manage)"]
    return []


def input_errors(inputs: Mapping, state: str = "present", smolmachine_stat=None, host: str = "the managed host",
                 backend=None, smolvm_version=None):
    if not isinstance(inputs, Mapping):
        raise InputError(f"expected the role's inputs as a mapping, got {as_json(inputs)}")
    if state not in ("present", "absent"):
        raise InputError(f"state={as_json(state)} must be present or absent")
    if backend not in (None, *HOST_LOOPBACK_FROM_GUEST):
        raise InputError(f"backend={as_json(backend)} must be tsi, virtio-net or null (unknown)")
    errors = common_errors(inputs)
    if state == "present":
        errors += launch_errors(inputs, smolmachine_stat, host)
        errors += pool_errors(inputs, backend, smolvm_version)
    return errors


def published_on_alias_alone(published, alias: str, ports: list):
    """None when every wanted port is published and every binding is on the alias; else why not."""
    if not isinstance(published, Mapping):
        return f"Docker shows no published ports ({as_json(published)})"
    missing = [port for port in ports if not published.get(f"{port}/tcp")]
    if missing:
        return f"ports {as_json(missing)} are not published"
    elsewhere = sorted(f"{binding.get('HostIp') or '*'}:{binding.get('HostPort')} ({key})"
                       for key, bindings in published.items() for binding in bindings or ()
                       if binding.get("HostIp") != alias)
    if elsewhere:
        return f"it also publishes on {', '.join(elsewhere)}"
    return None


def host_port(published, port: int) -> int:
    """The host port Docker picked on the alias for a container port, 0 while none is known."""
    bindings = (published or {}).get(f"{port}/tcp") or ()
    return (whole_number(bindings[0].get("HostPort")) or 0) if bindings else 0


def endpoints(alias: str, ports, container=None, predicted: bool = False, proxy_port=None, no_proxy=(),
              guest_env=None, guest_url_env=None) -> dict:
    """Where the guest reaches the bundle, what it is told, and whether the bundle is confined."""
    if not isinstance(alias, str) or not alias:
        raise InputError(f"alias={as_json(alias)} must be the bottle's address")
    wanted = tcp_ports(ports)
    specs = url_specs(guest_url_env)
    published = ((container or {}).get("NetworkSettings") or {}).get("Ports")
    host_ports = {port: host_port(published, port) for port in wanted}
    urls = {port: f"http://{alias}:{number}" for port, number in host_ports.items()}
    env = dict(guest_env or {})
    if proxy_port is not None:
        proxy = urls.get(whole_number(proxy_port))
        if proxy is None:
            raise InputError(f"bottle_proxy_port={as_json(proxy_port)} must be one of bottle_bundle_ports={as_json(wanted)}")
        env.update(dict.fromkeys(PROXY_VARIABLES, proxy))
    env.update(dict.fromkeys(NO_PROXY_VARIABLES, ",".join([alias, *(no_proxy or ())])))
    for name, (scheme, port) in specs.items():
        if port not in host_ports:
            raise InputError(f"bottle_guest_url_env.{name} names port {port}, not one of bottle_bundle_ports")
        env[name] = f"{scheme}://{alias}:{host_ports[port]}"
    bundle = str((container or {}).get("Name") or "the bundle container").lstrip("/")
    why = None
    if not predicted:
        why = published_on_alias_alone(published, alias, wanted)
    return {
        "alias": alias,
        "published_ports": [f"{alias}::{port}" for port in wanted],
        "allowlist": [f"{alias}/32"],
        "ports": host_ports,
        "urls": urls,
        "env": env,
        "predicted": bool(predicted),
        "confinement_error": None if why is None else (
            f"{bundle} does not publish ports {as_json(wanted)} on {alias} alone: {why}; so the bottle would "
            f"not be confined to its address; remove the container and launch again"),
    }


def probe_target(target, what: str) -> dict:
    """A {host, port} target as smolvm_probe takes it; else an error naming it."""
    try:
        (host, port), = parse_targets(what, [target])
    except MachineSpecError:
        raise InputError(f"{what}={as_json(target)} must be {{host: ADDRESS, port: PORT}} with a TCP port from 1 to "
                         f"65535, for example {{host: 198.18.0.17, port: 9099}}") from None
    return {"host": host, "port": port}


def probe_targets(alias: str, host_ports, containers=(), own_container: str = "", backend: str = "virtio-net",
                  unreachable=()) -> dict:
    """What the guest must reach (its own address at each host port) and must not: every other
    running bundle's published endpoints, the host's loopback at the bottle's host ports as the
    guest addresses it, and the extra targets given."""
    if not isinstance(alias, str) or not alias:
        raise InputError(f"alias={as_json(alias)} must be the bottle's address")
    if backend not in HOST_LOOPBACK_FROM_GUEST:
        raise InputError(f"backend={as_json(backend)} must be tsi or virtio-net")
    values = host_ports.values() if isinstance(host_ports, Mapping) else host_ports
    ports = [whole_number(port) for port in values or ()]
    if not ports or any(port is None or not 1 <= port <= 65535 for port in ports):
        raise InputError(f"host_ports={as_json(host_ports)} must be the bottle's published host ports, at least one")
    reachable = [{"host": alias, "port": port} for port in sorted(set(ports))]
    wanted = []
    for container in containers or ():
        names = [str(name).lstrip("/") for name in (container or {}).get("Names") or ()]
        if own_container and own_container.lstrip("/") in names:
            continue
        for binding in (container or {}).get("Ports") or ():
            if binding.get("Type", "tcp") != "tcp" or not binding.get("PublicPort"):
                continue
            address = binding.get("IP") or "0.0.0.0"
            # A port published on every address is reachable at the bottle's own address too.
            host = alias if address in ("0.0.0.0", "::") else address
            wanted.append({"host": host, "port": whole_number(binding["PublicPort"])})
    # Docker lists containers and bindings in no fixed order; a sorted list keeps the fact stable.
    wanted.sort(key=lambda target: (target["host"], target["port"]))
    loopback = HOST_LOOPBACK_FROM_GUEST[backend]
    wanted += [{"host": loopback, "port": port} for port in sorted(set(ports))]
    wanted += [probe_target(target, f"bottle_probe_unreachable[{index}]") for index, target in enumerate(unreachable or ())]
    unique = []
    for target in wanted:
        if target in reachable:
            raise InputError(f"{target['host']}:{target['port']} is both the bottle's own endpoint and one it must "
                             f"not reach (another bottle's, the host's loopback or bottle_probe_unreachable); "
                             f"the bottle cannot be proven confined")
        if target not in unique:
            unique.append(target)
    return {"reachable": reachable, "unreachable": unique}


def launch_failure(step, result, undone=()) -> str:
    """The failed step and its message, then each part of the undoing that failed too."""
    message = (result or {}).get("msg") or "failed"
    failed = [f"{item['what']}: {(item.get('result') or {}).get('msg') or 'failed'}"
              for item in undone or () if (item.get("result") or {}).get("failed")]
    also = f" (undoing this run also failed: {'; '.join(failed)})" if failed else ""
    return f"{step}: {message}{also}"
