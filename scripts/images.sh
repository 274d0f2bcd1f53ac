#!/usr/bin/env bash
# Build the test image locally (no registry is reachable): a root holding Debian's static busybox,
# imported as $TEST_IMAGE. It serves HTTP on the sidecar ports bot-bottle publishes (egress proxy
# 8888 and 9099, MCP 9100, git 9418), a stand-in for the real sidecar bundle.
source "$(dirname "$0")/lib.sh"
load_docker_host

docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 && exit 0
if ! dpkg -s busybox-static >/dev/null 2>&1; then
  log "installing Debian's busybox-static"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
fi
log "building $TEST_IMAGE"
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/bin" "$rootfs/www" "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in sh httpd sleep true cat nc wget; do ln -s busybox "$rootfs/bin/$applet"; done
echo "bot-bottle test sidecar" > "$rootfs/www/index.html"
tar -C "$rootfs" -c . | docker import \
  -c 'CMD ["/bin/sh", "-c", "for p in 8888 9099 9100; do httpd -p $p -h /www; done; exec httpd -f -p 9418 -h /www"]' \
  - "$TEST_IMAGE" >/dev/null
