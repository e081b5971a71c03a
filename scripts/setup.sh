#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for prepull's tests: the Docker engine, podman and the
# registry the end-to-end tests start themselves (nothing is started here), docker-compose
# (the compose check of images-from), skopeo (the mirror benchmark), openssl for the
# test token server, sudo for the runner-shaped user, and the npm dependencies. Run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v bash >/dev/null 2>&1 || need+=(bash)
# The set-vars sandbox (util-linux: unshare, setpriv, mount) made through sudo, as on a runner,
# and the runner-shaped test users (useradd, passwd); perl for the reaper where no sandbox is possible.
command -v sudo >/dev/null 2>&1 || need+=(sudo)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v useradd >/dev/null 2>&1 || need+=(passwd)
command -v perl >/dev/null 2>&1 || need+=(perl-base)
command -v mount >/dev/null 2>&1 || need+=(mount)
command -v ps >/dev/null 2>&1 || need+=(procps)
# skopeo: the mirror benchmark's comparison (`npm run bench`), not the tests
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
