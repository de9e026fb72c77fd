#!/usr/bin/env bash
# Installs Debian's nginx for the reverse-proxy tests, if missing. The package's own service is
# not used: each test starts a private nginx on a loopback port with its own configuration.
set -euo pipefail
if [ -x /usr/sbin/nginx ]; then
  echo "nginx: $(/usr/sbin/nginx -v 2>&1 || echo present)" >&2
  exit 0
fi
echo "nginx: installing Debian's package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# policy-rc.d 101: the package must not start (or leave running) a system-wide nginx on port 80.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends nginx-light >&2
