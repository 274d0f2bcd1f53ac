# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the real_smolvm target needs to know about this machine, as one JSON object on stdout.

    python smolvm_facts.py probe EXECUTABLE [CACHED]
        is EXECUTABLE (else the newest of CACHED, a JSON {version: path}) the real smolvm, and can
        this machine boot VMs?
    python smolvm_facts.py allowlist NAME     machine NAME's record, read from smolvm's database

`probe` never fails: it reports what it found, and the target decides whether to skip.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse

# ELF, and Mach-O thin (both byte orders, 32 and 64 bit) and universal binaries.
NATIVE_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf",
                b"\xfe\xed\xfa\xce", b"\xca\xfe\xba\xbe")
VERSION = re.compile(r"smolvm (\d+\.\d+\.\d+)\s*\Z")


def hypervisor(system):
    """(usable, why) for the virtualisation smolvm needs: KVM on Linux, Hypervisor.framework on macOS."""
    if system == "Linux":
        if not os.path.exists("/dev/kvm"):
            return False, "/dev/kvm does not exist (no KVM: enable virtualisation or nested virtualisation)"
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            return False, "/dev/kvm exists but this user cannot open it read-write (add the user to the kvm group)"
        return True, "/dev/kvm is usable"
    if system == "Darwin":
        try:
            out = subprocess.run(["/usr/sbin/sysctl", "-n", "kern.hv_support"], capture_output=True,
                                 text=True, check=False, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"cannot ask sysctl for kern.hv_support: {exc}"
        if out == "1":
            return True, "kern.hv_support is 1"
        return False, f"kern.hv_support is {out or 'unset'}: Hypervisor.framework is not available"
    return False, f"smolvm runs on macOS and Linux only, not on {system}"


def newest_cached(cached):
    """The newest existing binary of {version: path} (the harness's bottle_real_smolvms)."""
    def key(version):
        return tuple(int(part) if part.isdigit() else -1 for part in version.split("."))
    for version in sorted(cached, key=key, reverse=True):
        if os.access(cached[version], os.X_OK):
            return cached[version]
    return None


def probe(executable, cached=None):
    """Facts about `executable` (looked up on PATH); when it is not there, about the newest of the
    cached real smolvm binaries (a JSON {version: path}), so one command runs this target."""
    system = platform.system()
    path, found_by = shutil.which(executable), "PATH"
    if path is None and cached:
        path, found_by = newest_cached(json.loads(cached)), "bottle_real_smolvms"
    facts = {"system": system, "path": path, "found_by": found_by if path else None,
             "native": False, "version": None, "version_output": None}
    facts["hypervisor"], facts["hypervisor_detail"] = hypervisor(system)
    if facts["path"] is None:
        return facts
    with open(facts["path"], "rb") as handle:
        facts["native"] = handle.read(4) in NATIVE_MAGIC
    try:
        done = subprocess.run([facts["path"], "--version"], capture_output=True, text=True,
                              check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        facts["version_output"] = str(exc)
        return facts
    output = (done.stdout + done.stderr).strip()
    facts["version_output"] = output.splitlines()[0] if output else ""
    match = VERSION.match(done.stdout.strip()) if done.returncode == 0 else None
    facts["version"] = match.group(1) if match else None
    return facts


def db_path():
    """smolvm's database, where smolvm puts it: SMOLVM_DATA_DIR (Linux, 1.2.5 on), else
    dirs::data_local_dir()."""
    if platform.system() == "Linux" and os.environ.get("SMOLVM_DATA_DIR"):
        base = os.path.join(os.environ["SMOLVM_DATA_DIR"], ".local", "share")
    elif platform.system() == "Darwin":
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME", "")
        if not os.path.isabs(base):
            base = os.path.expanduser("~/.local/share")
    return os.path.join(base, "smolvm", "server", "smolvm.db")


def allowlist(name):
    path = db_path()
    row = None
    if os.path.exists(path):
        # Read-only, so a missing database is never created by the test.
        connection = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, timeout=15)
        try:
            row = connection.execute("SELECT data FROM vms WHERE name = ?", (name,)).fetchone()
        finally:
            connection.close()
    record = json.loads(bytes(row[0])) if row else None
    return {"db_path": path, "exists": row is not None,
            "allowed_cidrs": record.get("allowed_cidrs") if record else None,
            "network": record.get("network") if record else None,
            "state": record.get("state") if record else None}


def main(argv):
    if not (argv[1:2] == ["probe"] and len(argv) in (3, 4)) and not (
            argv[1:2] == ["allowlist"] and len(argv) == 3):
        sys.stderr.write(__doc__)
        return 2
    result = probe(*argv[2:]) if argv[1] == "probe" else allowlist(argv[2])
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
