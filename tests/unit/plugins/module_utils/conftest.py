# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real Docker engine, for the unit tests that check what it really does."""

from __future__ import annotations

import os

import pytest

# Built by scripts/images.sh: busybox httpd on 8888, 9099, 9100 and 9418.
BUNDLE_IMAGE = "bot-bottle/test-bundle:1"


@pytest.fixture(scope="session")
def engine():
    """A Docker SDK client of the engine DOCKER_HOST names (scripts/test.sh always sets it)."""
    docker = pytest.importorskip("docker")
    host = os.environ.get("DOCKER_HOST")
    if not host:
        pytest.skip("DOCKER_HOST is not set, so no Docker engine answers; scripts/test.sh always sets it")
    try:
        client = docker.DockerClient(base_url=host, version="auto", timeout=60)
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine answers at {host}: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def bundle_image(engine):
    """The name of the test bundle image, once the engine is known to hold it."""
    docker = pytest.importorskip("docker")
    try:
        engine.images.get(BUNDLE_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"the test image {BUNDLE_IMAGE} is missing (scripts/images.sh builds it)")
    return BUNDLE_IMAGE
