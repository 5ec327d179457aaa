#!/usr/bin/env bash
# PostgreSQL with pgvector for the Postgres store's tests and benches. The server is the
# distribution's (postgresql-15 on Debian 12). pgvector comes, in this order, from:
#   1. the package sources apt is configured with, where they carry it (postgresql-N-pgvector:
#      Debian 13, Ubuntu 24.04, the PGDG repository);
#   2. otherwise a build of pgvector 0.8.0 from Debian's source tarball, pinned by the sha256 in
#      its .dsc: a copy already cached under $UNDERSTUDY_HOME/pgvector, or the file named by
#      $PGVECTOR_TARBALL (for offline machines), or downloaded from the Debian mirror apt is
#      configured with (read with `apt-get indextargets`, so a local mirror or apt proxy is
#      used; $PGVECTOR_MIRROR overrides it).
# Chosen over a PyPI wheel that bundles its own PostgreSQL: the tests then run against the
# distribution's server, the one users install. No archive address is written here.
# `setup-postgres.sh --fetch-source` only puts the verified tarball in the cache (tests use it).
set -euo pipefail

home="${UNDERSTUDY_HOME:-$HOME/.cache/understudy}"
version=0.8.0
sha256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
pool_path="pool/main/p/pgvector/pgvector_${version}.orig.tar.gz"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

apt_install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

# The Debian mirrors apt is configured with (not the security archive, which has no pgvector).
debian_mirrors() {
  if [ -n "${PGVECTOR_MIRROR:-}" ]; then echo "${PGVECTOR_MIRROR%/}/"; return; fi
  apt-get indextargets --format '$(ORIGIN) $(REPO_URI)' 2>/dev/null \
    | awk '$1 == "Debian" && $2 !~ /security/ { print $2 }' | sort -u
}

# Puts the pinned tarball at $1, or says how to supply it.
fetch_tarball() {
  local dest=$1 part="$1.part" proxy="" mirror
  if [ -n "${PGVECTOR_TARBALL:-}" ]; then
    cp "$PGVECTOR_TARBALL" "$part"
  else
    eval "$(apt-config shell proxy Acquire::http::Proxy)"
    for mirror in $(debian_mirrors); do
      echo "downloading pgvector ${version} source from ${mirror}" >&2
      if curl -fsSL ${proxy:+--proxy "$proxy"} -o "$part" "${mirror}${pool_path}"; then break; fi
      rm -f "$part"
    done
  fi
  if [ ! -f "$part" ]; then
    echo "error: pgvector is not in apt's package sources and no Debian mirror gave ${pool_path}." >&2
    echo "  Set PGVECTOR_MIRROR to a Debian mirror, or PGVECTOR_TARBALL to a copy of pgvector_${version}.orig.tar.gz (sha256 ${sha256})." >&2
    exit 1
  fi
  if ! echo "$sha256  $part" | sha256sum -c --quiet - >/dev/null 2>&1; then
    echo "error: $(basename "$dest") does not have the pinned sha256 ${sha256}" >&2
    rm -f "$part"
    exit 1
  fi
  mv "$part" "$dest"
}

tarball="$home/pgvector/pgvector_${version}.orig.tar.gz"
have_tarball() { [ -f "$tarball" ] && echo "$sha256  $tarball" | sha256sum -c --quiet - >/dev/null 2>&1; }
if [ "${1:-}" = "--fetch-source" ]; then
  mkdir -p "$home/pgvector"
  have_tarball || fetch_tarball "$tarball"
  echo "$tarball"
  exit 0
fi

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  apt_install postgresql
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
major=$(basename "$(dirname "$pg_bin")")
share=$("$pg_bin/pg_config" --sharedir)
if [ -f "$share/extension/vector.control" ]; then
  echo "pgvector is installed for PostgreSQL $major"
  exit 0
fi

if apt-cache show "postgresql-$major-pgvector" >/dev/null 2>&1; then
  apt_install "postgresql-$major-pgvector"
  echo "pgvector installed for PostgreSQL $major from apt's package sources"
  exit 0
fi

if [ ! -f "/usr/include/postgresql/$major/server/postgres.h" ]; then
  apt_install "postgresql-server-dev-$major" make gcc
fi

build="$home/pgvector/$version-pg$major"
if [ ! -f "$build/vector.so" ]; then
  mkdir -p "$home/pgvector"
  have_tarball || fetch_tarball "$tarball"
  rm -rf "$build"
  mkdir -p "$build"
  tar -xzf "$tarball" -C "$build" --strip-components=1
  # OPTFLAGS="": no -march=native, so the cached build runs on any x86-64 machine.
  make -C "$build" -s -j2 PG_CONFIG="$pg_bin/pg_config" OPTFLAGS=""
fi
$SUDO make -C "$build" -s install PG_CONFIG="$pg_bin/pg_config" OPTFLAGS=""
echo "pgvector $version installed for PostgreSQL $major"
