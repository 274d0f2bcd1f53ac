"""Stand-in for get-pip.py that ansible-test runs with its pip options and packages.

Installed at ~/.ansible/test/cache/get_pip_24_2.py by scripts/setup.sh. It bootstraps pip with
ensurepip in a child process (ensurepip sets PIP_CONFIG_FILE=/dev/null in its own process, which
would hide the machine's pip settings), then installs what it was asked for from the package index.
"""
import os
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True,
               stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
env = {k: v for k, v in os.environ.items() if k != "PIP_CONFIG_FILE"}
sys.exit(subprocess.run([sys.executable, "-m", "pip", "install"] + args, env=env, check=False).returncode)
