#!/usr/bin/env bash
# Installs the sandbox Asterisk used by the tests and the demo.
#
# Asterisk is not packaged for Debian 12, but Debian unstable (sid) has Asterisk 22: a minimal sid
# root in a folder (a chroot) runs it next to the host, sharing the host's network (127.0.0.1).
# Also installs sipp (Debian package sip-tester) on the host, to place real SIP calls.
#
# Run as root. Idempotent: the root is built once (a marker file records completion) and every run
# only checks the host packages and the two mounts, which do not survive a reboot:
#   ROOT/proc  (Asterisk reads it)
#   ROOT/tmp   a bind mount of the host's /tmp, so a configuration written under /tmp by the
#              controller (or pytest) has the same path inside the root.
#
# Environment: VISIOREGUL_SANDBOX_ROOT (default /var/lib/visioregul-sandbox/root).
#
# If sid ever breaks, the same steps with SUITE=bullseye give Asterisk 16.28; the configuration works
# there too, except that res_websocket_client does not exist and must be left out of modules.conf.
set -euo pipefail

ROOT="${VISIOREGUL_SANDBOX_ROOT:-/var/lib/visioregul-sandbox/root}"
SUITE="sid"
MIRROR="http://deb.debian.org/debian"
MARKER_NAME=".visioregul-sandbox-complete"

step() { printf 'sandbox: %s\n' "$*"; }
fail() {
    printf 'sandbox: ERROR: %s\n' "$*" >&2
    exit 1
}

[[ ${EUID} -eq 0 ]] || fail "must run as root (it runs debootstrap, chroot and mount)"

# Resolve once so that mount targets compare equal to what findmnt prints.
ROOT="$(realpath -m -- "${ROOT}")"
[[ "${ROOT}" != "/" ]] || fail "VISIOREGUL_SANDBOX_ROOT must not be /"
MARKER="${ROOT}/${MARKER_NAME}"

# --- host packages --------------------------------------------------------------------------------
ensure_host_packages() {
    local missing=()
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
    if [[ ${#missing[@]} -eq 0 ]]; then
        step "host packages: debootstrap and sipp present"
        return
    fi
    step "host packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only when the install cannot find what it needs.
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        step "host packages: apt-get update"
        apt-get update -qq || fail "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
            || fail "could not install ${missing[*]}"
    fi
}

# --- mounts ---------------------------------------------------------------------------------------
# Every mount at or under ROOT, deepest first.
mounts_under_root() {
    findmnt -rn -o TARGET | awk -v root="${ROOT}" \
        'index($0, root "/") == 1 || $0 == root' | sort -r
}

unmount_all() {
    local target
    while read -r target; do
        [[ -n "${target}" ]] || continue
        step "unmounting ${target}"
        umount -- "${target}" 2>/dev/null || umount -l -- "${target}" \
            || fail "cannot unmount ${target}"
    done < <(mounts_under_root)
    if [[ -n "$(mounts_under_root)" ]]; then
        fail "mounts remain under ${ROOT}; refusing to go on"
    fi
}

ensure_mounts() {
    mkdir -p -- "${ROOT}/proc" "${ROOT}/tmp"
    if mountpoint -q -- "${ROOT}/proc"; then
        step "mount: ${ROOT}/proc already mounted"
    else
        mount -t proc proc "${ROOT}/proc" || fail "cannot mount proc on ${ROOT}/proc"
        step "mount: proc on ${ROOT}/proc"
    fi
    if mountpoint -q -- "${ROOT}/tmp"; then
        step "mount: /tmp already bound on ${ROOT}/tmp"
    else
        mount --bind /tmp "${ROOT}/tmp" || fail "cannot bind /tmp on ${ROOT}/tmp"
        step "mount: /tmp bound on ${ROOT}/tmp"
    fi
}

# --- the root -------------------------------------------------------------------------------------
remove_half_built_root() {
    [[ -e "${ROOT}" ]] || return 0
    step "removing the half-built root ${ROOT} (no completion marker)"
    unmount_all
    # Belt and braces: the host's /tmp must never be reachable from what we delete.
    if mountpoint -q -- "${ROOT}/tmp" 2>/dev/null; then
        fail "${ROOT}/tmp is still a mount point; refusing to delete ${ROOT}"
    fi
    rm -rf --one-file-system -- "${ROOT}" || fail "cannot remove ${ROOT}"
}

build_root() {
    mkdir -p -- "$(dirname -- "${ROOT}")"
    step "debootstrap ${SUITE} into ${ROOT} (about 30 s)"
    local log
    log="$(mktemp /tmp/visioregul-debootstrap.XXXXXX.log)"
    if ! debootstrap --variant=minbase "${SUITE}" "${ROOT}" "${MIRROR}" >"${log}" 2>&1; then
        tail -n 20 -- "${log}" >&2 || true
        unmount_all
        fail "debootstrap failed (full log: ${log})"
    fi
    rm -f -- "${log}"

    step "policy-rc.d: packages must not start services"
    printf '#!/bin/sh\nexit 101\n' >"${ROOT}/usr/sbin/policy-rc.d"
    chmod 0755 "${ROOT}/usr/sbin/policy-rc.d"

    ensure_mounts

    step "installing asterisk inside the root (about 15 s)"
    log="$(mktemp /tmp/visioregul-apt.XXXXXX.log)"
    # debootstrap leaves fresh package lists: no apt-get update needed inside.
    if ! chroot "${ROOT}" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
        apt-get install -y --no-install-recommends asterisk >"${log}" 2>&1; then
        tail -n 20 -- "${log}" >&2 || true
        # Never leave the host's /tmp bound inside a root that will be deleted.
        unmount_all
        fail "apt-get install asterisk failed inside the root (full log: ${log})"
    fi
    rm -f -- "${log}"
    chroot "${ROOT}" apt-get clean
    [[ -x "${ROOT}/usr/sbin/asterisk" ]] || fail "asterisk binary missing after install"

    local version
    version="$(chroot "${ROOT}" dpkg-query -W -f '${Version}' asterisk)"
    printf 'suite=%s\nasterisk=%s\nbuilt=%s\n' "${SUITE}" "${version}" "$(date -u +%FT%TZ)" \
        >"${MARKER}"
    step "root complete: Asterisk ${version}"
}

main() {
    ensure_host_packages
    if [[ -f "${MARKER}" && -x "${ROOT}/usr/sbin/asterisk" ]]; then
        step "root ${ROOT} already built ($(grep '^asterisk=' "${MARKER}" | cut -d= -f2))"
        ensure_mounts
    else
        remove_half_built_root
        build_root
    fi
    step "ready"
}

main "$@"
