#!/usr/bin/env bash
# Build the test images locally (no registry is reachable), each only when missing:
# - $TEST_IMAGE: a root holding Debian's static busybox. It serves HTTP on the sidecar ports
#   bot-bottle publishes (egress proxy 8888 and 9099, MCP 9100, git 9418), a stand-in for the
#   real sidecar bundle.
# - $TEST_PYTHON_IMAGE: the same plus Debian's python3.11, its standard library and the shared
#   libraries it loads, so that Ansible can manage the container as a host (Molecule's fleet), and
#   iproute2's ip (busybox's applet has no -j), which loopback_pool runs for a pool outside 127/8.
source "$(dirname "$0")/lib.sh"
load_docker_host

ensure_debian_package() {
  dpkg -s "$1" >/dev/null 2>&1 && return 0
  log "installing Debian's $1"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

busybox_root() {  # busybox_root DIR
  mkdir -p "$1/bin" "$1/www" "$1/tmp" "$1/etc"
  cp /bin/busybox "$1/bin/busybox"
  local applet
  for applet in sh ash httpd sleep true false cat nc wget ls mkdir rm cp mv id env uname hostname \
                grep sed tr head tail chmod ln date stat test; do
    ln -s busybox "$1/bin/$applet"
  done
  echo "bot-bottle test sidecar" > "$1/www/index.html"
  echo "root:x:0:0:root:/root:/bin/sh" > "$1/etc/passwd"
  echo "root:x:0:" > "$1/etc/group"
  chmod 1777 "$1/tmp"
}

add_python() {  # add_python DIR: Debian's interpreter, its stdlib and every library they link
  local root=$1
  mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/root"
  cp /usr/bin/python3.11 "$root/usr/bin/python3.11"
  ln -s python3.11 "$root/usr/bin/python3"
  tar -C /usr/lib --exclude='python3.11/test' --exclude='__pycache__' \
    --exclude='python3.11/site-packages' --exclude='python3.11/dist-packages' \
    -cf - python3.11 | tar -C "$root/usr/lib" -xf -
  copy_with_libs "$root" /usr/bin/python3.11 /usr/lib/python3.11/lib-dynload/*.so
  mkdir -p "$root/lib64"
  [ -e "$root/lib64/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/" 2>/dev/null || true
}

copy_with_libs() {  # copy_with_libs ROOT BINARY...: the binaries and every library ldd names
  local root=$1 lib; shift
  for lib in "$@" $(ldd "$@" 2>/dev/null \
                   | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/lib/ {print $1}' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

add_ip() {  # add_ip DIR: Debian's /bin/ip, also as /sbin/ip
  ensure_debian_package iproute2
  copy_with_libs "$1" /bin/ip
  mkdir -p "$1/sbin"
  ln -sf ../bin/ip "$1/sbin/ip"
}

build() {  # build IMAGE KIND CMD
  local image=$1 kind=$2 cmd=$3
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  log "building $image"
  local rootfs
  rootfs=$(mktemp -d)
  busybox_root "$rootfs"
  if [ "$kind" = python ]; then add_python "$rootfs"; add_ip "$rootfs"; fi
  tar -C "$rootfs" -c . | docker import -c "CMD $cmd" - "$image" >/dev/null
  rm -rf "$rootfs"
}

ensure_debian_package busybox-static
# shellcheck disable=SC2016  # $p is for the container's shell
build "$TEST_IMAGE" busybox \
  '["/bin/sh", "-c", "for p in 8888 9099 9100; do httpd -p $p -h /www; done; exec httpd -f -p 9418 -h /www"]'
build "$TEST_PYTHON_IMAGE" python '["/bin/sleep", "2147483647"]'
