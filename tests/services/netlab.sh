#!/usr/bin/env bash
# Installs what the emulated-network lab (tests/field) needs, if missing: iproute2 (`ip netns`,
# `tc`) and nftables. Its ruleset is applied only inside the lab's own namespaces, never the host's.
set -euo pipefail
if [ -x /usr/sbin/nft ] && command -v ip >/dev/null; then
  echo "netlab: $(/usr/sbin/nft --version) and $(ip -V)" >&2
  exit 0
fi
echo "netlab: installing Debian's iproute2 and nftables" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# policy-rc.d 101: the package must not start a system-wide service (nftables.service).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends iproute2 nftables >&2
if [ ! -e /dev/net/tun ]; then
  echo "netlab: /dev/net/tun is missing (the kernel's tun module)" >&2
  exit 1
fi
