# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PublisherReader against the real Docker engine: what the engine's list endpoint really returns."""

from __future__ import annotations

import os
import uuid

from ansible_collections.bot_bottle.smolmachines.plugins.module_utils.docker_state import Publisher, PublisherReader


def test_the_real_engine_lists_every_publisher_with_its_bottle(engine, bundle_image):
    prefix = f"hx{uuid.uuid4().hex[:8]}.s_c-"
    names = {prefix + "a": "127.0.0.201", prefix + "a-1": "127.0.0.202", "x" + prefix + "b": "127.0.0.203"}
    created = []
    try:
        for name, address in names.items():
            created.append(engine.containers.run(bundle_image, name=name, detach=True,
                                                 ports={"9099/tcp": (address, None)}))
        publishers = {p.name: p for p in PublisherReader(engine, prefix, os.environ["DOCKER_HOST"]).read()}
    finally:
        for container in created:
            container.remove(force=True)
    assert publishers[prefix + "a"] == Publisher(prefix + "a", "a", ["127.0.0.201"])
    assert publishers[prefix + "a-1"] == Publisher(prefix + "a-1", "a-1", ["127.0.0.202"])
    assert publishers["x" + prefix + "b"] == Publisher("x" + prefix + "b", None, ["127.0.0.203"])
