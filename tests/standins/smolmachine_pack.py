# Copyright: (c) 2026, bot-bottle developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make and read a minimal `.smolmachine` pack: a TEST FIXTURE, not part of the collection.

The real smolvm CLI (1.7.7 to 1.32.2) accepts such a file for `machine create --from`; the stand-in
reads it with read_pack() and refuses any file that is not one, as the real CLI does (1.4.0 on).
A test makes one with make_pack(), or from a playbook:
    python tests/standins/smolmachine_pack.py OUT.smolmachine [--image I] [--cmd WORD ...]

Layout of a sidecar pack (smolvm's crates/smolvm-pack, format version 1), all integers little-endian:
  [assets: a zstd-compressed tar][manifest: JSON][footer: 64 bytes]
  footer = b"SMOLPACK", u32 version, u64 stub_size (0 in a sidecar), u64 assets_offset (0),
           u64 assets_size, u64 manifest_offset, u64 manifest_size, u32 CRC32 of assets+manifest,
           8 reserved zero bytes.
"""

import argparse
import io
import json
import struct
import tarfile
import zlib

MAGIC = b"SMOLPACK"
FORMAT_VERSION = 1
FOOTER = struct.Struct("<8sIQQQQQI8s")
FOOTER_SIZE = 64
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


class PackError(ValueError):
    """The file is not a pack this format describes."""


def _zstd_compress(data):
    import zstandard  # pylint: disable=import-outside-toplevel  # only the maker needs it

    return zstandard.ZstdCompressor().compress(data)


def _assets_tar(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def make_pack(path, image="alpine:3.20", entrypoint=(), cmd=(), env=(), workdir=None,
              cpus=1, mem=256):
    """Write a minimal pack to PATH; returns its manifest (a dict)."""
    rootfs = _assets_tar({"etc/hostname": b"bottle\n"})
    assets = _zstd_compress(_assets_tar({"agent-rootfs.tar": rootfs}))
    manifest = {
        "mode": "container", "image": image,
        "digest": "sha256:" + "0" * 64, "platform": "linux/amd64",
        "cpus": cpus, "mem": mem,
        "assets": {"libraries": [], "agent_rootfs": {"path": "agent-rootfs.tar", "size": len(rootfs)},
                   "layers": []},
    }
    for key, value in (("entrypoint", list(entrypoint)), ("cmd", list(cmd)), ("env", list(env))):
        if value:
            manifest[key] = value
    if workdir is not None:
        manifest["workdir"] = workdir
    manifest_json = json.dumps(manifest, indent=2).encode("utf-8")
    body = assets + manifest_json
    footer = FOOTER.pack(MAGIC, FORMAT_VERSION, 0, 0, len(assets), len(assets), len(manifest_json),
                         zlib.crc32(body) & 0xFFFFFFFF, b"\0" * 8)
    with open(path, "wb") as handle:
        handle.write(body + footer)
    return manifest


def read_pack(path):
    """The manifest of the pack at PATH (a dict); PackError when the file is not a valid pack."""
    with open(path, "rb") as handle:
        data = handle.read()
    if len(data) < FOOTER_SIZE:
        raise PackError("sidecar file too small to contain footer")
    end = len(data) - FOOTER_SIZE
    fields = FOOTER.unpack(data[end:])
    magic, version, assets_offset, assets_size = fields[0], fields[1], fields[3], fields[4]
    manifest_offset, manifest_size, checksum = fields[5], fields[6], fields[7]
    if magic != MAGIC:
        raise PackError("invalid magic bytes")
    if version != FORMAT_VERSION:
        raise PackError(f"unsupported format version: {version}")
    if (manifest_size > MAX_MANIFEST_BYTES or assets_offset + assets_size > end
            or manifest_offset + manifest_size > end):
        raise PackError("footer points outside the file")
    if zlib.crc32(data[assets_offset:manifest_offset + manifest_size]) & 0xFFFFFFFF != checksum:
        raise PackError("checksum mismatch")
    try:
        manifest = json.loads(data[manifest_offset:manifest_offset + manifest_size])
    except ValueError as exc:
        raise PackError(f"invalid manifest: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("image"), str):
        raise PackError("invalid manifest: missing field `image`")
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a minimal .smolmachine pack.")
    parser.add_argument("path")
    parser.add_argument("--image", default="alpine:3.20")
    parser.add_argument("--cmd", nargs="*", default=[])
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeatable)")
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)
    make_pack(args.path, image=args.image, cmd=args.cmd, env=args.env, workdir=args.workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
