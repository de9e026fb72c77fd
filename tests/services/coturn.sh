#!/usr/bin/env bash
# Installs Debian's coturn (the TURN server of the field tests) and certutil (libnss3-tools: trusts
# the tests' TURN certificate authority in a private NSS database for Chromium), if missing. The
# package's own service is never used: each test starts a private turnserver in the foreground on
# its own configuration, address and secret.
set -euo pipefail
missing=()
[ -x /usr/bin/turnserver ] || missing+=(coturn)
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
if [ ${#missing[@]} -eq 0 ]; then
  echo "coturn: $(/usr/bin/turnserver --version 2>/dev/null | head -1 || echo present)" >&2
  exit 0
fi
echo "coturn: installing Debian's packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# policy-rc.d 101: the package must not start (or leave running) a system-wide turnserver.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
