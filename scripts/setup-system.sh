#!/usr/bin/env bash
# Installs the system packages the demo and the integration tests use: real HAProxy, OpenSSH
# server, Starman, Server::Starter, Plack, Carton and cpanm, socat (the HAProxy runtime API) and
# wrk for the benchmark.
# Idempotent: does nothing when everything is already there. Needs root (or sudo) and Debian's apt.
set -euo pipefail

packages=(haproxy openssh-server openssh-client starman carton cpanminus libserver-starter-perl
  libplack-perl wrk socat iproute2 curl ca-certificates)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup-system: run as root or install sudo (missing: ${missing[*]})" >&2; exit 1; }
  sudo=(sudo)
fi

echo "setup-system: installing ${missing[*]}"
# Package scripts must not start the system haproxy or sshd: the tests start their own, on loopback.
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ $had_policy -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
fi
cleanup() { [ $had_policy -eq 1 ] || "${sudo[@]}" rm -f "$policy"; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-system: done"
