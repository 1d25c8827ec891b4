#!/usr/bin/env bash
# Install the Debian packages the test suite needs: Chromium (browser tests), the
# PostgreSQL server (the tests start their own throwaway server on 127.0.0.1), a Java 17
# runtime (the tests start Apache Spark in local mode) and nginx (two dashboard processes
# behind the documented sticky proxy).
# Safe to run again: it installs only what is missing.
set -euo pipefail
packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
  || packages+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || packages+=(nginx-light)
command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jre-headless)
if [ ${#packages[@]} -eq 0 ]; then
  echo "system packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends "${packages[@]}"
