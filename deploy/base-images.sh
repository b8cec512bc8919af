#!/usr/bin/env bash
# base-images.sh - makes sure the two base images of deploy/Dockerfile exist
# in the local Docker daemon: debian:bookworm (build stage) and
# debian:bookworm-slim (runtime stage). An image already there is kept; a
# missing one is pulled; where no registry can be reached (air-gapped CI,
# these machines) it is built from this machine's own apt sources with
# mmdebstrap (Debian 12 minbase, about a minute each) and `docker import`ed
# under the official tag. The slim one drops man pages, docs (but not
# copyright files), info and locales as the official slim image does, so the
# runtime image's size is comparable with one built on the real base.
#
# usage: deploy/base-images.sh       (needs root for mmdebstrap when building)
set -euo pipefail

DOCKER="${DOCKER:-docker}"
SOURCES="${BASE_SOURCES:-}"
if [ -z "$SOURCES" ]; then
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [ -s "$f" ] && { SOURCES="$f"; break; }
  done
fi

have() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

slim_opts=(
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --dpkgopt='path-exclude=/usr/share/groff/*'
)

build() { # TAG [MMDEBSTRAP OPTIONS...]
  local tag="$1"
  shift
  command -v mmdebstrap >/dev/null ||
    { echo "base-images: $tag cannot be pulled and mmdebstrap is missing (apt-get install mmdebstrap)" >&2; return 1; }
  [ -n "$SOURCES" ] || { echo "base-images: no apt sources file found for mmdebstrap" >&2; return 1; }
  local tmp
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/satisfy-base-XXXXXX")"
  echo "base-images: building $tag with mmdebstrap --variant=minbase from $SOURCES"
  # merged-usr hook: /usr merged by mmdebstrap itself, as the official images
  # are, instead of the usrmerge package (which pulls in 47 MB of perl).
  if ! mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr "$@" bookworm "$tmp/rootfs.tar" "$SOURCES" >"$tmp/log" 2>&1; then
    tail -20 "$tmp/log" >&2
    rm -rf "$tmp"
    return 1
  fi
  "$DOCKER" import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tmp/rootfs.tar" "$tag" >/dev/null
  rm -rf "$tmp"
  echo "base-images: $tag imported ($("$DOCKER" image inspect -f '{{.Size}}' "$tag") bytes)"
}

ensure() { # TAG [MMDEBSTRAP OPTIONS...]
  local tag="$1"
  have "$tag" && return 0
  if timeout "${BASE_PULL_TIMEOUT:-60}" "$DOCKER" pull -q "$tag" >/dev/null 2>&1; then
    echo "base-images: pulled $tag"
    return 0
  fi
  build "$@"
}

ensure debian:bookworm-slim "${slim_opts[@]}"
ensure debian:bookworm
