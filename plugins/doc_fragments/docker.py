# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """How to reach the Docker engine, with the option names, aliases and environment variables of
    community.docker, so a playbook that already talks to Docker passes the same values here."""

    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The URL or Unix socket path used to connect to the Docker API, for example
        V(unix:///var/run/docker.sock) or V(tcp://192.0.2.23:2376). With TLS, C(tcp) is replaced
        by C(https).
      - If the value is not specified in the task, the value of environment variable E(DOCKER_HOST)
        is used instead. If the environment variable is not set, the default value is used.
    type: str
    default: unix:///var/run/docker.sock
    aliases:
      - docker_url
  tls_hostname:
    description:
      - When verifying the authenticity of the Docker host, the expected name of the server.
      - If the value is not specified in the task, the value of environment variable
        E(DOCKER_TLS_HOSTNAME) is used instead.
      - As in community.docker, this option is not supported with Docker SDK for Python 7.0.0 or
        newer, which dropped it; setting it then fails with a message that says so.
    type: str
  api_version:
    description:
      - The version of the Docker API running on the Docker host.
      - V(auto) asks the engine and uses the highest version both it and the Docker SDK for Python
        support.
      - If the value is not specified in the task, the value of environment variable
        E(DOCKER_API_VERSION) is used instead. If the environment variable is not set, the default
        value is used.
    type: str
    default: auto
    aliases:
      - docker_api_version
  timeout:
    description:
      - The maximum amount of time in seconds to wait on a response from the API.
      - If the value is not specified in the task, the value of environment variable E(DOCKER_TIMEOUT)
        is used instead. If the environment variable is not set, the default value is used.
    type: int
    default: 60
  ca_path:
    description:
      - Path to a CA certificate file used to verify the Docker host.
      - If the value is not specified in the task and the environment variable E(DOCKER_CERT_PATH) is
        set, the file C(ca.pem) from that directory is used.
    type: path
    aliases:
      - ca_cert
      - tls_ca_cert
      - cacert_path
  client_cert:
    description:
      - Path to the client's TLS certificate file.
      - If the value is not specified in the task and the environment variable E(DOCKER_CERT_PATH) is
        set, the file C(cert.pem) from that directory is used.
    type: path
    aliases:
      - tls_client_cert
      - cert_path
  client_key:
    description:
      - Path to the client's TLS key file.
      - If the value is not specified in the task and the environment variable E(DOCKER_CERT_PATH) is
        set, the file C(key.pem) from that directory is used.
    type: path
    aliases:
      - tls_client_key
      - key_path
  tls:
    description:
      - Secure the connection to the API with TLS without verifying the authenticity of the Docker
        host. If O(validate_certs=true) as well, verification takes precedence.
      - If the value is not specified in the task, the value of environment variable E(DOCKER_TLS)
        is used instead. If the environment variable is not set, the default value is used.
    type: bool
    default: false
  validate_certs:
    description:
      - Secure the connection to the API with TLS and verify the authenticity of the Docker host.
      - If the value is not specified in the task, the value of environment variable
        E(DOCKER_TLS_VERIFY) is used instead. If the environment variable is not set, the default
        value is used.
    type: bool
    default: false
    aliases:
      - tls_verify
notes:
  - The connection options and their environment variables (E(DOCKER_HOST), E(DOCKER_TLS_HOSTNAME),
    E(DOCKER_API_VERSION), E(DOCKER_CERT_PATH), E(DOCKER_TLS), E(DOCKER_TLS_VERIFY),
    E(DOCKER_TIMEOUT)) behave as in the community.docker collection.
requirements:
  - Docker SDK for Python (the C(docker) package) on the host that runs the module.
"""
