#!/usr/bin/env bash
# Run the sluice test suite inside qemu on the Debian kernels users run.
#   vmtest/run.sh [KERNEL...]      KERNEL: 5.10 | 6.1 | 6.12 (default: all)
# Environment:
#   VMTEST_CMD      command run in the guest from the repo root
#                   (default: SLUICE_IN_VM=1 tests/run.sh)
#   VMTEST_TIMEOUT  seconds for one whole guest run (default 2400; 5.10,
#                   the slowest under TCG: 5400)
#   VMTEST_ACCEL    kvm | tcg (default: kvm only if it really works)
#   VMTEST_MEM, VMTEST_SMP   guest size (default 2G, 2)
#   VMTEST_CACHE    kernels and run dirs (default vmtest/cache in the tree)
#   VMTEST_SHARDS   guests run at once per kernel, sharing the suite
#                   (default 1; tests/run.sh's SLUICE_TEST_QUEUE)
# Exit status: 0 when the command passed on every kernel asked for.
#
# The guest boots a Debian kernel with a tiny busybox initramfs that loads the
# modules we need, mounts the host's root read-only and the work tree
# writable over 9p, and chroots into the host root. So the guest runs the very
# binaries `make` built on the host, with the host's libraries and tools
# (bpftool, iproute2, clang...): no second build, no copy of libraries to
# keep in sync, only the kernel differs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# Kernels and run dirs (the guest sees them over 9p); another tree's cache
# can be shared through VMTEST_CACHE (a second clone need not download).
cache=${VMTEST_CACHE:-$repo/vmtest/cache}
mkdir -p "$cache"; cache=$(cd "$cache" && pwd)
: "${VMTEST_CMD:=SLUICE_IN_VM=1 tests/run.sh}"
: "${VMTEST_MEM:=2G}" "${VMTEST_SMP:=2}"
# Modules insmod-ed from the initramfs: the 9p stack that reaches the host,
# and (insurance) the ones the suite surely needs. Anything else comes from
# the kernel's module autoload, which the guest points at the host's kmod
# modprobe and the kernel's module tree kept in the cache (see init).
MODS=(virtio_pci 9pnet_virtio 9p veth sch_ingress cls_bpf act_bpf)

say() { echo "vmtest: $*" >&2; }
die() { say "Error: $*"; exit 1; }

# Kill our qemu on every exit path. `timeout` puts qemu in its own process
# group, so a ^C to us would not reach it; and qemu runs in the background
# while we `wait`, because bash runs a trap only once a foreground command
# ends (it would sit out the whole timeout).
pidfile='' rundir='' tpid=''
cleanup() {
	if [ -n "$pidfile" ] && [ -s "$pidfile" ]; then
		kill -9 "$(cat "$pidfile")" 2>/dev/null || true
	fi
	# qemu may not have written its pidfile yet: timeout relays TERM to it.
	if [ -n "$tpid" ]; then
		kill "$tpid" 2>/dev/null || true
		wait "$tpid" 2>/dev/null || true
	fi
	if [ -n "$rundir" ]; then rm -rf "$rundir"; fi
	pidfile='' rundir='' tpid=''
}
main_cleanup() {
	local p
	for p in "${gpids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${gpids[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -n "$queue" ] && rm -rf "$queue"
	cleanup
}
trap main_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- fetching and unpacking kernels ------------------------------------------

# bullseye is not in the host's sources: give apt its own sources.list,
# state and cache under $cache so /etc/apt and /var/lib/apt stay untouched.
apt_bullseye() {
	local d=$cache/apt-bullseye mirror
	mkdir -p "$d"/{state/lists/partial,cache/archives/partial,parts}
	# Same Debian mirror the host uses (deb or deb822 format).
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
		grep -v '^ *#' | grep -oE 'https?://[^ ]+/debian/?( |$)' |
		head -n1 | tr -d ' ' || true)
	mirror=${mirror:-http://deb.debian.org/debian}; mirror=${mirror%/}
	local key=/usr/share/keyrings/debian-archive-keyring.gpg
	printf 'deb [signed-by=%s] %s %s main\n' \
		"$key" "$mirror" bullseye "$key" "$mirror-security" bullseye-security \
		>"$d/sources.list"
	apt_opts=(-o "Dir::Etc::sourcelist=$d/sources.list"
		-o "Dir::Etc::sourceparts=$d/parts" -o "Dir::State=$d/state"
		-o "Dir::Cache=$d/cache" -o "Dir::State::status=/dev/null")
	apt-get -qq "${apt_opts[@]}" update >&2
}

# Set $pkg to the newest linux-image package for kernel series $1 (and
# $apt_opts to the apt configuration that reaches it).
kernel_pkg() {
	apt_opts=()
	case $1 in
	5.10) apt_bullseye
	      pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 |
		      awk '$2 ~ /^linux-image-5\.10\./ {print $2; exit}') ;;
	6.1)  apt-cache policy linux-image-amd64 | grep -q 'Candidate: 6' ||
		      apt-get -qq update >&2
	      pkg=$(apt-cache depends linux-image-amd64 |
		      awk '$2 ~ /^linux-image-6\.1\./ {print $2; exit}') ;;
	6.12) apt-cache pkgnames linux-image-6.12 | grep -q . ||
		      apt-get -qq update >&2
	      pkg=$(apt-cache pkgnames linux-image-6.12 |
		      grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
		      sort -V | tail -n1) ;;
	*) die "unknown kernel '$1' (want 5.10, 6.1 or 6.12)" ;;
	esac
}

# Debian ships only a compressed bzImage. Under TCG the guest's own
# decompression costs ~4 s per boot, so unpack the ELF vmlinux once and boot
# it through PVH (CONFIG_PVH is on in all three kernels).
extract_vmlinux() {
	local img=$1 out=$2 magic tool off
	for magic in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd' '\x1f\x8b\x08:gzip'; do
		tool=${magic##*:}
		for off in $(LC_ALL=C grep -aboP "${magic%:*}" "$img" | cut -d: -f1); do
			tail -c +$((off + 1)) "$img" | $tool -dc >"$out" 2>/dev/null || true
			[ "$(head -c4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] && return 0
		done
	done
	die "cannot find a vmlinux inside $img"
}

# The initramfs: static busybox, the modules above (uncompressed, so busybox
# insmod takes them) in load order, and our /init.
build_initramfs() {
	local root=$1 kver=$2 out=$3 ir=$1/../initramfs m f dst
	rm -rf "$ir"; mkdir -p "$ir"/{bin,dev,proc,sys,mnt/host,mods}
	cp /bin/busybox "$ir/bin/busybox"
	: >"$ir/mods/order"
	for m in "${MODS[@]}"; do
		deps=$(modprobe -d "$root" -S "$kver" --show-depends "$m") ||
			die "$kver lacks module $m"
		for f in $(awk '$1 == "insmod" {print $2}' <<<"$deps"); do
			dst=$(basename "$f"); dst=${dst%%.ko*}.ko
			grep -qx "$dst" "$ir/mods/order" && continue
			case $f in
			*.xz)  xz -dc "$f" ;;
			*.zst) zstd -qdc "$f" ;;
			*)     cat "$f" ;;
			esac >"$ir/mods/$dst"
			echo "$dst" >>"$ir/mods/order"
		done
	done
	cp "$repo/vmtest/init" "$ir/init"; chmod +x "$ir/init"
	(cd "$ir" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out"
	rm -rf "$ir"
}

# Make $cache/$k/{vmlinux,initramfs.gz,modroot/} (once; again when this
# script or the guest's init change).
prepare_kernel() {
	local k=$1 d=$cache/$1 stamp deb kver lock
	stamp=$(cat "$repo/vmtest/run.sh" "$repo/vmtest/init" | sha1sum | cut -c1-12)
	mkdir -p "$d"
	# Two runs at once (say CI and the self-test) must not unpack together.
	exec {lock}>"$cache/$k.lock"; flock "$lock"
	if [ -f "$d/stamp" ] && [ "$(cat "$d/stamp")" = "$stamp" ]; then
		exec {lock}>&-; return 0
	fi
	rm -f "$d"/linux-image-*.deb
	kernel_pkg "$k"
	[ -n "$pkg" ] || die "no linux-image package found for $k"
	say "$k: downloading $pkg"
	(cd "$d" && apt-get -qq "${apt_opts[@]}" \
		-o APT::Sandbox::User=root download "$pkg" >&2)
	deb=$(ls "$d"/linux-image-*.deb | head -n1)
	rm -rf "$d/root"; dpkg-deb -x "$deb" "$d/root"
	kver=$(ls "$d/root/lib/modules" | head -n1)
	# The .deb has no modules.dep: its postinst would run depmod.
	depmod -b "$d/root" "$kver"
	extract_vmlinux "$d/root/boot/vmlinuz-$kver" "$d/vmlinux"
	build_initramfs "$d/root" "$kver" "$d/initramfs.gz"
	echo "$kver" >"$d/kver"
	rm -rf "$d/modroot"; mkdir "$d/modroot"; mv "$d/root/lib" "$d/modroot/"
	rm -rf "$d/root" "$deb"
	echo "$stamp" >"$d/stamp"
	exec {lock}>&-
}

# --- running ------------------------------------------------------------------

# KVM only where it works: here /dev/kvm exists but is a nested PVM without
# vmx/svm, where `-cpu host` aborts and anything else crawls.
pick_accel() {
	if [ -n "${VMTEST_ACCEL:-}" ]; then echo "$VMTEST_ACCEL"; return; fi
	if [ -r /dev/kvm ] && [ -w /dev/kvm ] &&
	   grep -qwE 'vmx|svm' /proc/cpuinfo; then
		echo kvm
	else
		echo tcg
	fi
}

# run_guest K I N: one guest on kernel K, the I-th of N sharing a queue
# (a subshell of run_kernel: its own qemu, run dir and traps)
run_guest() {
	local k=$1 i=$2 n=$3 d=$cache/$1 accel cpu t0 t1 tstart rc qrc log tag=$1
	# the whole suite on 5.10 took 3559 s here (2026-12-06, one test
	# stuck for its 900 s, load average 6 on 2 cores)
	local VMTEST_TIMEOUT=${VMTEST_TIMEOUT:-$([ "$k" = 5.10 ] && echo 5400 || echo 2400)}
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	[ "$n" -gt 1 ] && tag="$k/$i"
	accel=$(pick_accel); cpu=max; [ "$accel" = kvm ] && cpu=host
	rundir=$(mktemp -d "$cache/run.$$.XXXX")
	pidfile=$rundir/qemu.pid log=$rundir/console.log
	: >"$log"   # tail must find it before qemu's redirection makes it
	if [ "$n" -gt 1 ]; then
		printf 'SLUICE_TEST_QUEUE=%q %s\n' "$queue" "$VMTEST_CMD" >"$rundir/cmd"
	else
		printf '%s\n' "$VMTEST_CMD" >"$rundir/cmd"
	fi
	# tests/run.sh starts no test past this (the guest's clock is the
	# host's): it reports, naming what ran out, before the timeout kills it
	local deadline=$(($(date +%s) + VMTEST_TIMEOUT - 60))
	say "$tag: booting $(cat "$d/kver") ($accel), running: $(cat "$rundir/cmd")"
	t0=$(date +%s.%N)
	# rcupdate.rcu_expedited=1: every map-in-map swap waits for an RCU grace
	# period, and under TCG a normal one takes tens of milliseconds on 6.1
	# (test_layout: 82 s -> 31 s). Expedited grace periods run the same
	# kernel code paths for BPF; only how long the wait lasts changes.
	# The guest prints SLUICE-VMTEST-START when its init hands over to the
	# command, and SLUICE-VMTEST-RC=<status> at the end; anything else
	# (panic, hang, qemu error) counts as failure.
	timeout -k 10 "$VMTEST_TIMEOUT" qemu-system-x86_64 \
		-name "sluice-vmtest-$$" -pidfile "$pidfile" \
		-nodefaults -no-user-config -display none -no-reboot \
		-machine pc -accel "$accel" -cpu "$cpu" \
		-smp "$VMTEST_SMP" -m "$VMTEST_MEM" \
		-kernel "$d/vmlinux" -initrd "$d/initramfs.gz" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 sluice_run=$rundir sluice_work=$repo sluice_cache=$cache sluice_mods=$d/modroot sluice_deadline=$deadline rcupdate.rcu_expedited=1 ${VMTEST_APPEND:-}" \
		-chardev stdio,id=con,signal=off -serial chardev:con \
		-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
		-fsdev local,id=work,path="$repo",security_model=none,multidevs=remap \
		-device virtio-9p-pci,fsdev=work,mount_tag=work \
		-fsdev local,id=cache,path="$cache",security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=cache,mount_tag=cache \
		</dev/null >"$log" 2>&1 &
	tpid=$!
	# Show the console as it comes; note when the guest starts the command.
	tail -s 0.1 --pid="$tpid" -n +1 -f "$log" |
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		if [ "$n" -gt 1 ]; then printf '[%s] %s\n' "$tag" "$line"; else printf '%s\n' "$line"; fi
		[[ $line == SLUICE-VMTEST-START* ]] && date +%s.%N >"$rundir/start"
	done &
	local rpid=$!
	qrc=0; wait "$tpid" || qrc=$?
	tpid=''
	wait "$rpid" || true
	t1=$(date +%s.%N)
	rc=$(tr -d '\r' <"$log" | grep -a '^SLUICE-VMTEST-RC=' | tail -n1 | cut -d= -f2 || true)
	tstart=$t1; [ -f "$rundir/start" ] && tstart=$(cat "$rundir/start")
	cleanup
	awk -v k="$tag" -v a="$t0" -v s="$tstart" -v b="$t1" 'BEGIN {
		printf "vmtest: %s: wall %.1fs, boot %.1fs (%.0f%%)\n", k, b-a, s-a, 100*(s-a)/(b-a) }' >&2
	if [ -z "$rc" ]; then
		if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
			say "$tag: FAIL: guest killed after ${VMTEST_TIMEOUT}s timeout"
		else
			say "$tag: FAIL: guest did not report a status (qemu exit $qrc)"
		fi
		return 1
	fi
	[ "$rc" = 0 ] && say "$tag: PASS" || say "$tag: FAIL: guest command exited $rc"
	[ "$rc" = 0 ]
}

# run_kernel K: the suite on kernel K in VMTEST_SHARDS guests at once (they
# take tests from one queue in the work tree, so each test runs once and a
# long one does not hold the others back; each guest is one emulator
# thread busy most of the time, so up to a guest per host CPU)
queue='' gpids=()
run_kernel() {
	local k=$1 n=${VMTEST_SHARDS:-1} i rc=0 p
	prepare_kernel "$k"
	[ "$n" -ge 1 ] 2>/dev/null || n=1
	# guests in the background even when one: `wait` lets a TERM to us
	# run main_cleanup at once (a foreground subshell would hold it off
	# until the guest's own timeout)
	[ "$n" -gt 1 ] && queue=$(mktemp -d "$repo/build/vmtest-queue.$$.XXXX")
	gpids=()
	for i in $(seq "$n"); do
		( run_guest "$k" "$i" "$n" ) &
		gpids+=($!)
	done
	for p in "${gpids[@]}"; do
		wait "$p" || rc=1
	done
	gpids=()
	[ -n "$queue" ] && rm -rf "$queue"
	queue=''
	return "$rc"
}

# scripts/deps.sh installs qemu, busybox-static, cpio, kmod when missing.
"$repo/scripts/deps.sh"
# xz unpacks Debian's bzImage and 6.12's modules; deps.sh does not list it.
command -v xz >/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xz-utils >/dev/null
[ $# -gt 0 ] || set -- 5.10 6.1 6.12
status=0 summary=()
for k in "$@"; do
	if run_kernel "$k"; then summary+=("$k:PASS"); else summary+=("$k:FAIL"); status=1; fi
done
say "${summary[*]}"
exit "$status"
