# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real Docker engine that runme.sh names (DOCKER_HOST, BOTTLE_TEST_IMAGE); setup_docker has
already checked that it answers and holds the image, so a missing one fails here, never skips."""

from __future__ import annotations

import os

import docker
import pytest


@pytest.fixture(scope="session")
def engine():
    """A Docker SDK client of the engine DOCKER_HOST names."""
    client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto", timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="session")
def bundle_image(engine):
    """The test bundle image (busybox httpd on 8888, 9099, 9100 and 9418), checked to be on the engine."""
    name = os.environ["BOTTLE_TEST_IMAGE"]
    engine.images.get(name)
    return name
