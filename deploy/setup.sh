#!/usr/bin/env bash
# Idempotent set-up for cluster_mgr on Debian 12 with Node 20: installs the real servers the manager,
# its node agent, the playground and the tests start (MariaDB, PostgreSQL 15, nats-server, etcd for the
# Raft benchmark, promtool for the metrics checks), runs `npm ci` when package-lock.json changed, and builds. A second run costs seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[setup] %s\n' "$*"; }
t0=$(date +%s%N)

need=()
command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
command -v mariadb-backup >/dev/null 2>&1 || need+=(mariadb-backup)
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# promtool checks the shipped alert rules and a live member's /metrics (test/metrics).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# Tests hold a port with an outgoing connection bound without SO_REUSEADDR (as the kernel's own
# ephemeral ports are), which Node cannot do itself.
command -v socat >/dev/null 2>&1 || need+=(socat)
# The agent's HTTPS test makes a self-signed certificate (test/agent/access.test.ts).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The web status page's browser test drives Debian's Chromium (only `npm test` asks for it).
if [ "${1:-}" = "--with-browser" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${need[*]} (run this script as root, or: sudo apt-get install ${need[*]})"
    exit 1
  fi
  say "installing Debian packages: ${need[*]}"
  # Keep the packages' own services from starting: cluster_mgr starts its servers itself, in their own dirs.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; made_policy=1; fi
  trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/cluster-mgr-apt.log 2>&1; then
    apt-get update -qq >>/tmp/cluster-mgr-apt.log 2>&1
    apt-get install -y -qq --no-install-recommends "${need[@]}" >>/tmp/cluster-mgr-apt.log 2>&1 \
      || { say "apt-get install failed; see /tmp/cluster-mgr-apt.log"; tail -20 /tmp/cluster-mgr-apt.log; exit 1; }
  fi
fi

# npm ci only when the lock file is not the one node_modules was installed from.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.cluster-mgr-lock-hash
if [ -L node_modules ]; then
  # A node_modules shared with another checkout (a link): npm ci here would empty the directory it
  # points to under every checkout using it. Leave it to the checkout that owns it.
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
    say "node_modules links to $(readlink node_modules), installed for another package-lock.json; not running npm ci through the link (run it there if the build needs it)"
  fi
elif [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >"$stamp"
fi

npx tsc -b
say "ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
