#!/usr/bin/env bash
# PostgreSQL with pgvector for the Postgres store's tests and benches. The server is Debian's
# (postgresql-15). pgvector is not packaged for Debian 12, so it is built from Debian's own source
# package of pgvector 0.8.0 (the orig tarball from deb.debian.org, pinned by the sha256 in its
# .dsc) against postgresql-server-dev-15, once, cached under $UNDERSTUDY_HOME/pgvector, and
# installed into the server's extension directory. Chosen over a PyPI wheel that bundles its own
# PostgreSQL: the tests then run against the distribution's server, the one users install.
set -euo pipefail

home="${UNDERSTUDY_HOME:-$HOME/.cache/understudy}"
version=0.8.0
sha256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
url="http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_${version}.orig.tar.gz"

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
major=$(basename "$(dirname "$pg_bin")")
share=$("$pg_bin/pg_config" --sharedir)
if [ -f "$share/extension/vector.control" ]; then
  echo "pgvector is installed for PostgreSQL $major"
  exit 0
fi

if [ ! -f "/usr/include/postgresql/$major/server/postgres.h" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$major" make gcc
fi

build="$home/pgvector/$version-pg$major"
if [ ! -f "$build/vector.so" ]; then
  mkdir -p "$home/pgvector"
  tarball="$home/pgvector/pgvector_${version}.orig.tar.gz"
  if [ ! -f "$tarball" ] || ! echo "$sha256  $tarball" | sha256sum -c --quiet -; then
    curl -fsSL -o "$tarball.part" "$url"
    echo "$sha256  $tarball.part" | sha256sum -c --quiet -
    mv "$tarball.part" "$tarball"
  fi
  rm -rf "$build"
  mkdir -p "$build"
  tar -xzf "$tarball" -C "$build" --strip-components=1
  # OPTFLAGS="": no -march=native, so the cached build runs on any x86-64 machine.
  make -C "$build" -s -j2 PG_CONFIG="$pg_bin/pg_config" OPTFLAGS=""
fi
make -C "$build" -s install PG_CONFIG="$pg_bin/pg_config" OPTFLAGS=""
echo "pgvector $version installed for PostgreSQL $major"
