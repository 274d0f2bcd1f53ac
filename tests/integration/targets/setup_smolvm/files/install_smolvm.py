"""Install the real smolvm CLIs from smol-machines' own `smolmachines` wheels on PyPI (NOT the
unrelated PyPI package `smolvm`), and print a "VERSION PATH" line for each.

Each wheel carries the CLI as smol/smol-vmm; only that file is kept, copied to DIR/VERSION/smolvm
(under another name, or through a symlink, smolvm >= 1.20 prints an extra `note:` line on stderr).
A version already there is reused, so a second run downloads nothing.

    install_smolvm.py DIR VERSION...
"""
import glob
import os
import subprocess
import sys
import tempfile
import zipfile


def installed(path, version):
    try:
        shown = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return False
    return shown.strip() == f"smolvm {version}"


def install(directory, version):
    path = os.path.join(directory, version, "smolvm")
    if installed(path, version):
        return path
    print(f"installing the real smolvm {version} from the smolmachines wheel", file=sys.stderr)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                        "--only-binary", ":all:", f"smolmachines=={version}", "-d", download], check=True)
        wheel, = glob.glob(os.path.join(download, "smolmachines-*.whl"))
        with zipfile.ZipFile(wheel) as archive, open(path + ".part", "wb") as out:
            out.write(archive.read("smol/smol-vmm"))
    os.chmod(path + ".part", 0o755)
    os.replace(path + ".part", path)
    if not installed(path, version):
        sys.exit(f"the smolvm {version} taken from the smolmachines wheel does not run here")
    return path


def main():
    directory, versions = sys.argv[1], sys.argv[2:]
    for version in versions:
        print(version, install(directory, version))


if __name__ == "__main__":
    main()
