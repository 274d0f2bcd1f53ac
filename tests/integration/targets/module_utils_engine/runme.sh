#!/usr/bin/env bash
# module_utils against the real Docker engine, with pytest: PublisherReader's reading of the engine's
# list endpoint (test_docker_state_engine.py) and 16 (then 32) allocations in separate processes
# released at the same moment (test_concurrency.py). A runme.sh, not tasks: the concurrency test
# holds every worker on its stdin and releases them together, which Ansible tasks cannot express.
set -eux

vars_file=$(cd ../.. && pwd)/integration_config.yml
ansible-playbook -i "$INVENTORY_PATH" -e "@$vars_file" ../setup_docker/playbook.yml

DOCKER_HOST=$(sed -n 's/^docker_host: "\(.*\)"$/\1/p' "$vars_file")
BOTTLE_TEST_IMAGE=$(sed -n 's/^bottle_test_image: "\(.*\)"$/\1/p' "$vars_file")
export DOCKER_HOST BOTTLE_TEST_IMAGE
# ansible-test names the collections root holding the collection under test.
export PYTHONPATH=$ANSIBLE_COLLECTIONS_PATH
python -m pytest -p no:ansible -p no:cacheprovider -q -rs test_docker_state_engine.py test_concurrency.py
