#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: Alertmanager (the
# alertmanager sink is tested against it), Chromium (the HTML report is
# rendered headless) and a Java runtime (the Spark parity tests start pyspark).
# Needs root or passwordless sudo when they are missing.
set -euo pipefail
need=()
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v chromium >/dev/null || need+=(chromium)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
echo "installing ${need[*]} (Debian packages used by the tests)"
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
