#!/usr/bin/env bash
# Install the Debian packages sluice needs to build, test and run its demo.
# Idempotent and quick when everything is present. Needs root.
set -euo pipefail

pkgs=(make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
      libyaml-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev pkg-config iproute2
      ethtool nftables
      iptables python3 procps python3-matplotlib libcap2-bin util-linux
      libmicrohttpd-dev prometheus libncurses-dev tmux wrk curl librsvg2-bin
      etcd-server etcd-client openssl faketime
      bird2 frr debhelper dpkg-dev lintian fakeroot systemd bash-completion)
# the status page's browser test: Chromium is ~100 MB, asked for only when
# no chromium is on the PATH (whatever installed it)
command -v chromium >/dev/null || pkgs+=(chromium)
[ "${SLUICE_VMTEST_DEPS:-1}" = 1 ] &&
	pkgs+=(qemu-system-x86 busybox-static cpio kmod)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
# clang/llvm may come under versioned names (clang-14 ...); accept the tools.
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
