#!/usr/bin/env bash
# Self-test of vmtest/run.sh on the 6.1 kernel: a passing, a failing, a
# panicking, a hung and an interrupted guest command each give the right exit
# status, and none leaves a qemu process or run directory behind.
# Exit 0 pass, 77 skip (reason on the last stderr line), else fail.
# It starts qemu itself, so not inside a guest: sluice-test: host-only
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "skip: needs root (deps, qemu 9p)" >&2; exit 77; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
fails=0

# run WANT_RC_ZERO(yes|no) CMD [ENV...]: run vmtest, check status, leftovers.
check() {
	local name=$1 want=$2 cmd=$3 pid rc=0; shift 3
	env VMTEST_CMD="$cmd" "$@" vmtest/run.sh 6.1 >"$out" 2>&1 &
	pid=$!
	wait "$pid" || rc=$?
	leftovers "$name" "$pid"
	if { [ "$want" = yes ] && [ "$rc" != 0 ]; } ||
	   { [ "$want" = no ] && [ "$rc" = 0 ]; }; then
		echo "FAIL $name: vmtest exit $rc"; sed 's/^/    | /' "$out" | tail -n 20
		fails=$((fails + 1)); return 1
	fi
	echo "ok   $name: vmtest exit $rc"
}

# No qemu with our run's marker (-name sluice-vmtest-<pid of run.sh>) and
# no run directory may remain.
leftovers() {
	local name=$1 pid=$2
	sleep 0.5
	if pgrep -f "sluice-vmtest-$pid( |$)" >/dev/null; then
		echo "FAIL $name: qemu left running: $(pgrep -af "sluice-vmtest-$pid")"
		kill -9 $(pgrep -f "sluice-vmtest-$pid( |$)") 2>/dev/null || true
		fails=$((fails + 1))
	fi
	if compgen -G "vmtest/cache/run.$pid.*" >/dev/null; then
		echo "FAIL $name: run directory left: $(echo vmtest/cache/run.$pid.*)"
		fails=$((fails + 1))
	fi
}

if ! check pass yes true; then
	if [ ! -f vmtest/cache/6.1/stamp ]; then
		tail -n 5 "$out" >&2
		echo "skip: could not fetch or prepare the 6.1 kernel" >&2; exit 77
	fi
fi
grep -q 'wall .*boot' "$out" || { echo "FAIL pass: no timing line"; fails=$((fails + 1)); }

check false no false && grep -q 'guest command exited 1' "$out" ||
	{ echo "FAIL false: wrong reason"; fails=$((fails + 1)); }

check exit-status no 'echo to-host; exit 7' && grep -q '^to-host' "$out" &&
	grep -q 'guest command exited 7' "$out" ||
	{ echo "FAIL exit-status: output or status not passed out"; fails=$((fails + 1)); }

# A guest kernel panic: no status line, so failure.
check panic no 'echo c >/proc/sysrq-trigger; sleep 100' VMTEST_TIMEOUT=120 &&
	grep -q 'did not report' "$out" ||
	{ echo "FAIL panic: wrong reason"; fails=$((fails + 1)); }

start=$SECONDS
check hung no 'sleep 1000' VMTEST_TIMEOUT=12 && grep -q 'timeout' "$out" &&
	[ $((SECONDS - start)) -lt 90 ] ||
	{ echo "FAIL hung: not ended by the timeout"; fails=$((fails + 1)); }

# A tree under /tmp (a fresh clone there, as a new user might make): the
# guest's own tmpfs on /tmp must not hide it. The clone shares this tree's
# kernel cache, and gets this tree's vmtest scripts (uncommitted edits too).
tmptree=$(mktemp -d /tmp/sl-vmt-XXXXXX)
trap 'rm -f "$out"; rm -rf "$tmptree"' EXIT
git clone -q . "$tmptree/sluice" 2>/dev/null ||
	mkdir -p "$tmptree/sluice/vmtest" "$tmptree/sluice/scripts"
cp vmtest/run.sh vmtest/init "$tmptree/sluice/vmtest/"
cp scripts/deps.sh "$tmptree/sluice/scripts/"
env VMTEST_CACHE="$PWD/vmtest/cache" VMTEST_CMD='echo "guest-pwd=$PWD"; echo hi >guest-wrote' \
	"$tmptree/sluice/vmtest/run.sh" 6.1 >"$out" 2>&1 && rc=0 || rc=$?
if [ "$rc" = 0 ] && grep -q "^guest-pwd=$tmptree/sluice\$" "$out" &&
   [ "$(cat "$tmptree/sluice/guest-wrote" 2>/dev/null)" = hi ]; then
	echo "ok   tree under /tmp: the guest ran in it and wrote to it"
else
	echo "FAIL tree under /tmp: vmtest exit $rc"; sed 's/^/    | /' "$out" | tail -n 20
	fails=$((fails + 1))
fi

# SIGTERM to vmtest while the guest runs: it must take qemu down with it.
VMTEST_CMD='sleep 1000' vmtest/run.sh 6.1 >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do
	grep -q SLUICE-VMTEST-START "$out" && break
	sleep 0.2
done
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
leftovers sigterm "$pid"
[ "$rc" != 0 ] && echo "ok   sigterm: vmtest exit $rc" ||
	{ echo "FAIL sigterm: exit 0"; fails=$((fails + 1)); }

echo "$fails failed"
[ "$fails" = 0 ]
