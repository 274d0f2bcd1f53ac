# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: bottle_endpoints
short_description: Where a bottle's guest reaches its sidecars, and whether the bundle is confined
version_added: 0.1.0
author: bot-bottle developers
description:
  - Computes, from a bottle's address and its bundle container as Docker shows it, what the
    P(bot_bottle.smolmachines.bottle#role) role needs for the VM and reports as its fact C(bottle) -
    the host port Docker picked for each container port, the URLs the guest uses, the guest's
    environment, the VM's allowlist, and the proof that the bundle publishes on the bottle's address
    and on nothing else.
  - The guest environment is O(guest_env), then the proxy variables (C(HTTPS_PROXY), C(HTTP_PROXY),
    C(https_proxy), C(http_proxy)) pointing at O(proxy_port), then C(NO_PROXY) and C(no_proxy) (the
    address first, then O(no_proxy)), then one variable per entry of O(guest_url_env); later ones win,
    so no stale value can point the guest at another bottle.
  - Fails, naming the value, when a port, O(proxy_port) or an entry of O(guest_url_env) is not usable.
    The P(bot_bottle.smolmachines.bottle_input_errors#filter) filter reports the same problems as a list.
notes:
  - A port Docker has not published yet (a bundle that check mode only predicts) has host port V(0).
positional: _input, ports
options:
  _input:
    description: The bottle's address, for example V(127.0.0.16).
    type: string
    required: true
  ports:
    description:
      - The container ports the bundle publishes (TCP, 1 to 65535, distinct); strings of digits count as
        the number they spell.
    type: list
    elements: integer
    required: true
  container:
    description:
      - The bundle container as C(docker inspect) shows it, for example the RV(community.docker.docker_container#module:container)
        result of M(community.docker.docker_container); its C(NetworkSettings.Ports) give the host ports.
      - Leave it out, or V(null), when the bundle is not known yet; then RV(_value.confinement_error)
        says so unless O(predicted=true).
    type: dictionary
  predicted:
    description:
      - The bundle is only predicted (check mode); its confinement is not proven, and
        RV(_value.confinement_error) is V(null).
    type: boolean
    default: false
  proxy_port:
    description: The container port of the bundle's egress proxy, or V(null) for a bundle without one.
    type: integer
  no_proxy:
    description: Hosts the guest reaches without the proxy, after the bottle's address.
    type: list
    elements: string
    default: []
  guest_env:
    description: Further guest variables; the computed ones take precedence.
    type: dictionary
    default: {}
  guest_url_env:
    description:
      - "Guest variables that hold the URL of a published port: C(NAME: PORT) for
        C(http://<address>:<host port>), or C(NAME: {port: PORT, scheme: SCHEME})."
    type: dictionary
    default: {}
seealso:
  - plugin: bot_bottle.smolmachines.bottle_input_errors
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Compute the guest environment of a bundle Docker is running
  ansible.builtin.debug:
    msg: >-
      {{ '127.0.0.16' | bot_bottle.smolmachines.bottle_endpoints([9099, 9418],
           container=bundle.container, proxy_port=9099,
           guest_url_env={'GIT_URL': {'port': 9418, 'scheme': 'git'}}) }}
  vars:
    bundle:
      container:
        Name: /bot-bottle-sidecars-researcher-m3hxd
        NetworkSettings:
          Ports:
            9099/tcp: [{HostIp: 127.0.0.16, HostPort: "49153"}]
            9418/tcp: [{HostIp: 127.0.0.16, HostPort: "49154"}]
  # => env: {HTTPS_PROXY: http://127.0.0.16:49153, ..., NO_PROXY: 127.0.0.16, GIT_URL: git://127.0.0.16:49154}

- name: The ports to publish, before the bundle exists
  ansible.builtin.debug:
    msg: "{{ ('127.0.0.16' | bot_bottle.smolmachines.bottle_endpoints([9099], predicted=true)).published_ports }}"
  # => ["127.0.0.16::9099"]
"""

RETURN = r"""
_value:
  description: The bottle's endpoints.
  type: dictionary
  contains:
    alias:
      description: The bottle's address.
      type: string
      sample: 127.0.0.16
    published_ports:
      description: The ports as M(community.docker.docker_container)'s O(community.docker.docker_container#module:published_ports) takes them.
      type: list
      elements: string
      sample: ["127.0.0.16::9099", "127.0.0.16::9418"]
    allowlist:
      description: The VM's egress allowlist, the address's C(/32).
      type: list
      elements: string
      sample: ["127.0.0.16/32"]
    ports:
      description: Container port to host port (V(0) while Docker has not published it).
      type: dictionary
      sample: {9099: 49153, 9418: 49154}
    urls:
      description: Container port to C(http://<address>:<host port>).
      type: dictionary
      sample: {9099: "http://127.0.0.16:49153"}
    env:
      description: The guest's environment.
      type: dictionary
      sample: {HTTPS_PROXY: "http://127.0.0.16:49153", NO_PROXY: "127.0.0.16", no_proxy: "127.0.0.16"}
    predicted:
      description: Whether O(predicted) was set.
      type: boolean
    confinement_error:
      description:
        - V(null) when every port is published and every binding of the container is on the address;
          otherwise why the bottle would not be confined, naming the bindings found.
        - Always V(null) with O(predicted=true).
      type: string
      sample: "bot-bottle-sidecars-researcher-m3hxd does not publish ports [9099] on 127.0.0.16 alone: it also publishes on *:49153 (9099/tcp); ..."
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.bot_bottle.smolmachines.plugins.plugin_utils.bottle_launch import InputError, endpoints


def bottle_endpoints(alias, ports, container=None, predicted=False, proxy_port=None, no_proxy=None, guest_env=None,
                     guest_url_env=None):
    try:
        return endpoints(alias, ports, container=container, predicted=predicted, proxy_port=proxy_port,
                         no_proxy=no_proxy or (), guest_env=guest_env, guest_url_env=guest_url_env)
    except InputError as exc:
        raise AnsibleFilterError(f"bottle_endpoints: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"bottle_endpoints": bottle_endpoints}
