#!/usr/bin/env bash
# Run make targets of this checkout inside a clean Debian root (debootstrap, Debian's archive).
#
#   scripts/chroot_ci.sh trixie|sid [make targets...]      (default targets: setup test; needs root)
#
# The base root (minbase + make, git, ca-certificates) is built once and cached in
# ${EGMS_CHROOT_CACHE:-/var/cache/egms-ci}/<suite>; a stamp file marks it complete.  Every run
# starts from that base through a throwaway overlay, so `make setup` installs QGIS as on a fresh
# machine and nothing of the run (project copy, venv, QGIS packages, profiles, /tmp) stays in
# the cache; only downloaded .debs are kept, in <cache>/<suite>.apt-archives.  /tmp is the
# overlay's (on disk, not a tmpfs: a test expects tens of GB free there).  The checkout this
# script lives in (working tree without ignored files, plus .git) is copied to /work/main and
# ../shared is bind-mounted read-only at /work/shared.  Each target runs as `make <target>` in
# /work/main; the script stops at the first failing target and exits with make's exit code.
# All mounts live in a private mount namespace (unshare) and are also unmounted on exit.
#
# Environment: EGMS_CHROOT_CACHE   cache folder (default /var/cache/egms-ci)
#              EGMS_CHROOT_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#              EGMS_CHROOT_PASS    names of host variables to pass into the chroot (e.g. PYTEST_ADDOPTS)
#              EGMS_CHROOT_KEEP    a host folder that receives .build/gui-demo (screenshots of `make gui-demo`)
# Rebuild a base root: rm -rf <cache>/<suite> (or just its stamp <cache>/<suite>/.egms-ci-base).
set -euo pipefail

log() { echo "chroot_ci: $*" >&2; }
die() { log "$*"; exit 2; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
[ $# -ge 1 ] || { usage >&2; exit 2; }
case $1 in
  -h|--help) usage; exit 0 ;;
  trixie|sid) SUITE=$1 ;;
  *) usage >&2; die "unknown suite '$1' (trixie or sid)" ;;
esac
shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(setup test)
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, mount, chroot)"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=$(dirname "$SRC")/shared
CACHE=${EGMS_CHROOT_CACHE:-/var/cache/egms-ci}
MIRROR=${EGMS_CHROOT_MIRROR:-http://deb.debian.org/debian}
BASE=$CACHE/$SUITE
STAMP=$BASE/.egms-ci-base
DEBS=$CACHE/$SUITE.apt-archives
RUN=$CACHE/.run-$SUITE
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ---- outer part: lock the suite, then re-run this script in a private mount namespace ----
if [ -z "${EGMS_CHROOT_IN_NS:-}" ]; then
  for tool in unshare chroot mount flock git tar; do
    command -v "$tool" >/dev/null || die "$tool not found"
  done
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap on the host"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.$SUITE.lock"
  flock -n 9 || die "another chroot_ci run uses $SUITE (lock $CACHE/.$SUITE.lock)"
  EGMS_CHROOT_IN_NS=1 exec unshare --mount --propagation private -- "$0" "$SUITE" "${TARGETS[@]}"
fi

# ---- inner part (private mount namespace; fd 9 holds the lock) ----
MOUNTS=()          # mount points in mounting order; unmounted in reverse
RC=0
T_BOOTSTRAP="reused"
declare -A T_TARGET=()

mounted_under() { awk -v p="$1" '$2 == p || index($2, p "/") == 1 {print $2}' /proc/self/mounts; }

mnt() {  # mnt <mount point> <mount arguments...>
  local point=$1; shift
  mkdir -p "$point"
  mount "$@" "$point"
  MOUNTS+=("$point")
}

umount_all() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" || log "could not unmount ${MOUNTS[i]}"
  done
  MOUNTS=()
}

kill_leftovers() {  # processes still running inside the root (e.g. a daemon started by a test)
  local root=$1 pid pids=()
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && pids+=("${pid#/proc/}")
  done
  ((${#pids[@]})) || return 0
  log "ending leftover processes in $root: ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  sleep 2
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

bind_system() {  # bind_system <root>: /proc /sys /dev /dev/pts, fresh /dev/shm
  mnt "$1/proc" --bind /proc
  mnt "$1/sys" --bind /sys
  mnt "$1/dev" --bind /dev
  mnt "$1/dev/pts" --bind /dev/pts
  mnt "$1/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev tmpfs
}

refresh_host_files() {  # resolver and the host's local CA certificates (pip needs them)
  local root=$1
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$root/usr/local/share/ca-certificates"
  if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  fi
}

in_root() {  # in_root <root> <command...>: clean environment
  local root=$1 extra=() v; shift
  for v in ${EGMS_CHROOT_PASS:-}; do
    [ -n "${!v+x}" ] && extra+=("$v=${!v}")
  done
  chroot "$root" /usr/bin/env -i DEBIAN_FRONTEND=noninteractive PATH="$CHROOT_PATH" HOME=/root \
    LANG=C.UTF-8 TERM="${TERM:-dumb}" "${extra[@]}" "$@"
}

summary() {
  local t
  log "suite $SUITE: bootstrap ${T_BOOTSTRAP}$([ "$T_BOOTSTRAP" = reused ] || echo " s")"
  for t in "${TARGETS[@]}"; do
    [ -n "${T_TARGET[$t]:-}" ] && log "suite $SUITE: make $t ${T_TARGET[$t]}"
  done
  log "suite $SUITE: exit code $RC"
}

cleanup() {
  local rc=$?
  [ "$RC" != 0 ] || RC=$rc
  trap - EXIT INT TERM
  kill_leftovers "$RUN/root"
  kill_leftovers "$BASE"
  umount_all
  if [ -d "$RUN" ]; then
    if [ -n "$(mounted_under "$RUN")" ]; then
      log "not removing $RUN: still mounted: $(mounted_under "$RUN" | tr '\n' ' ')"
    else
      rm -rf --one-file-system "$RUN"
    fi
  fi
  summary
  exit "$RC"
}
trap cleanup EXIT
trap 'RC=130; exit 130' INT
trap 'RC=143; exit 143' TERM

ensure_base() {
  if [ -f "$STAMP" ]; then
    log "reusing $BASE ($(head -n 1 "$STAMP"))"
    return
  fi
  [ -z "$(mounted_under "$BASE")" ] || die "$BASE has mounts inside: $(mounted_under "$BASE" | tr '\n' ' ')"
  if [ -e "$BASE" ]; then
    log "removing incomplete root $BASE"
    rm -rf --one-file-system "$BASE"
  fi
  local t0=$SECONDS
  log "debootstrap --variant=minbase $SUITE $BASE $MIRROR"
  debootstrap --variant=minbase "$SUITE" "$BASE" "$MIRROR" >"$CACHE/.$SUITE.debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/.$SUITE.debootstrap.log" >&2; die "debootstrap failed (log $CACHE/.$SUITE.debootstrap.log)"; }
  rm -f "$CACHE/.$SUITE.debootstrap.log"
  # sid's Release file can be past its Valid-Until; retry flaky downloads.
  cat >"$BASE/etc/apt/apt.conf.d/99egms-ci" <<'EOF'
Acquire::Check-Valid-Until "false";
Acquire::Retries "3";
EOF
  # No service may start inside the root.
  printf '#!/bin/sh\nexit 101\n' >"$BASE/usr/sbin/policy-rc.d"
  chmod 755 "$BASE/usr/sbin/policy-rc.d"
  refresh_host_files "$BASE"
  bind_system "$BASE"
  in_root "$BASE" apt-get update -qq
  in_root "$BASE" apt-get install -y -qq make git ca-certificates >/dev/null
  in_root "$BASE" update-ca-certificates >/dev/null
  in_root "$BASE" apt-get clean
  kill_leftovers "$BASE"
  umount_all
  T_BOOTSTRAP=$((SECONDS - t0))
  {
    echo "built $(date -u +%FT%TZ) from $MIRROR in ${T_BOOTSTRAP} s"
    in_root "$BASE" dpkg-query -W -f='${Package} ${Version}\n' make git ca-certificates
  } >"$STAMP.tmp"
  mv "$STAMP.tmp" "$STAMP"
  log "bootstrap of $SUITE took ${T_BOOTSTRAP} s"
}

copy_checkout() {  # working tree (tracked + untracked, not ignored) and .git, fresh
  local dest=$1
  rm -rf --one-file-system "$dest"
  mkdir -p "$dest"
  git -C "$SRC" ls-files -z -co --exclude-standard \
    | while IFS= read -r -d '' f; do
        if [ -e "$SRC/$f" ] || [ -L "$SRC/$f" ]; then printf '%s\0' "$f"; fi
      done \
    | tar -C "$SRC" --null -T - -cf - | tar -C "$dest" -xf -
  tar -C "$SRC" -cf - .git | tar -C "$dest" -xf -
}

ensure_base

# A throwaway overlay over the cached base: the run never writes to the cache.
[ -z "$(mounted_under "$RUN")" ] || die "$RUN has mounts inside"
rm -rf --one-file-system "$RUN"
mkdir -p "$RUN/upper" "$RUN/work" "$RUN/root" "$DEBS"
ROOT=$RUN/root
mnt "$ROOT" -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN/upper,workdir=$RUN/work"
refresh_host_files "$ROOT"
bind_system "$ROOT"
mnt "$ROOT/var/cache/apt/archives" --bind "$DEBS"
in_root "$ROOT" update-ca-certificates >/dev/null

log "copying $SRC to /work/main"
copy_checkout "$ROOT/work/main"
if [ -d "$SHARED" ]; then
  mnt "$ROOT/work/shared" --bind "$SHARED"
  mount -o remount,bind,ro "$ROOT/work/shared"
else
  log "no $SHARED beside the checkout: tests that need it will skip"
fi

for target in "${TARGETS[@]}"; do
  log "make $target ($SUITE)"
  t0=$SECONDS
  set +e
  in_root "$ROOT" /bin/bash -c 'cd /work/main && exec make "$1"' _ "$target"
  rc=$?
  set -e
  T_TARGET[$target]="$((SECONDS - t0)) s (exit $rc)"
  log "make $target: $((SECONDS - t0)) s, exit $rc"
  if [ "$rc" != 0 ]; then RC=$rc; break; fi
done
if [ -n "${EGMS_CHROOT_KEEP:-}" ] && [ -d "$ROOT/work/main/.build/gui-demo" ]; then
  mkdir -p "$EGMS_CHROOT_KEEP"
  cp -r "$ROOT/work/main/.build/gui-demo/." "$EGMS_CHROOT_KEEP/"
  log "kept .build/gui-demo in $EGMS_CHROOT_KEEP"
fi
exit "$RC"
