#!/usr/bin/env bash
# Run the sluice test suite: every compiled unit/datapath test in build/tests/
# and every tests/integration/*.sh. A test exits 0 (pass), 77 (skip, with its
# reason on stderr) or anything else (fail). Ends with "N passed, N failed".
# SLUICE_TEST_FILTER=regex runs only matching tests.
# SLUICE_TEST_QUEUE=DIR: several runners share the suite (vmtest's guests
# at once, VMTEST_SHARDS): each takes a test by making DIR/NAME (mkdir is
# atomic, over 9p too) and skips the ones another took; the scripts, the
# longest, come first so the last tests to run are short.
# Under vmtest (SLUICE_IN_VM=1) a test whose source (tests/unit/NAME.c for
# build/tests/NAME, else the script) has a line with the text
# "sluice-test: host-only" is skipped: it does not depend on the kernel, and
# qemu TCG is ~10x slower.
set -u
cd "$(dirname "$0")/.."
# Each test gets SLUICE_TEST_TIMEOUT seconds (under qemu TCG every command
# is ~10x slower); one that runs out fails alone: timeout kills its process
# group (KILL 5 s after TERM), then the network namespaces it made are
# emptied and deleted, and the next test runs. SLUICE_TEST_DEADLINE (epoch
# seconds; vmtest's guest sets it from its whole-run timeout): no test runs
# past it, so the run reports before the host kills the guest, and a test
# it leaves under a minute for fails as not run.
[ "${SLUICE_IN_VM:-0}" = 1 ] && : "${SLUICE_TEST_TIMEOUT:=900}"
: "${SLUICE_TEST_TIMEOUT:=600}"
pass=0 fail=0 skip=0 failed=()
tests=()
# in the tree's build dir, only binaries whose source is in the tree: one
# that outlived a deleted or branch-only test must not run (a build dir
# given by SLUICE_BUILD is taken as it is)
for t in "${SLUICE_BUILD:-build}"/tests/*; do
	[ -x "$t" ] || continue
	[ -n "${SLUICE_BUILD:-}" ] || [ -f "tests/unit/$(basename "$t").c" ] || continue
	tests+=("$t")
done
scripts=()
for t in tests/integration/test_*.sh tests/bench/smoke_*.sh vmtest/test_*.sh; do
	[ -f "$t" ] && scripts+=("$t")
done
if [ -n "${SLUICE_TEST_QUEUE:-}" ]; then
	tests=("${scripts[@]}" "${tests[@]}")
else
	tests+=("${scripts[@]}")
fi
# host_only TEST: its source carries the marker
host_only() {
	local src=$1
	[[ $src == build/tests/* ]] && src=tests/unit/$(basename "$src").c
	grep -q 'sluice-test: host-only' "$src" 2>/dev/null
}
for t in "${tests[@]}"; do
	[ -n "$t" ] || continue
	name=$(basename "$t")
	[ -n "${SLUICE_TEST_FILTER:-}" ] && ! [[ $name =~ $SLUICE_TEST_FILTER ]] && continue
	[ -n "${SLUICE_TEST_QUEUE:-}" ] && ! mkdir "$SLUICE_TEST_QUEUE/$name" 2>/dev/null && continue
	if [ "${SLUICE_IN_VM:-0}" = 1 ] && host_only "$t"; then
		skip=$((skip + 1)); echo "SKIP $name: host-only"; continue
	fi
	limit=$SLUICE_TEST_TIMEOUT
	if [ -n "${SLUICE_TEST_DEADLINE:-}" ]; then
		left=$((SLUICE_TEST_DEADLINE - $(date +%s)))
		if [ "$left" -lt 60 ]; then
			fail=$((fail + 1)); failed+=("$name")
			echo "FAIL $name: not run, ${left}s left before the run's deadline"
			continue
		fi
		[ "$left" -lt "$limit" ] && limit=$left
	fi
	# under vmtest the console is all there is to watch
	[ "${SLUICE_IN_VM:-0}" = 1 ] && echo "RUN  $name (at most ${limit}s)"
	netns_before=$(ip netns list 2>/dev/null | awk '{print $1}')
	start=$(date +%s.%N)
	out=$(mktemp)
	if [[ $t == *.sh ]]; then
		timeout -k 5 "$limit" bash "$t" >"$out" 2>&1
	else
		timeout -k 5 "$limit" "$t" >"$out" 2>&1
	fi
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "timed out after ${limit}s (SLUICE_TEST_TIMEOUT)" >>"$out"
		for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
			grep -qxF "$ns" <<<"$netns_before" && continue
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
			ip netns del "$ns" 2>/dev/null &&
				echo "removed network namespace $ns it left" >>"$out"
		done
	fi
	case $rc in
	0)  pass=$((pass + 1)); echo "PASS $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$out")" ;;
	*)  fail=$((fail + 1)); failed+=("$name")
	    what="rc=$rc"
	    [ "$rc" = 124 ] || [ "$rc" = 137 ] && what="timed out after ${limit}s"
	    echo "FAIL $name ($what, ${secs}s)"
	    # the failed checks first: the tail may not reach back to them
	    grep -E '^ *(FAIL|not ok)' "$out" | head -n 20 | sed 's/^/    ! /'
	    sed 's/^/    | /' "$out" | tail -n 60 ;;
	esac
	[ "${SLUICE_TEST_VERBOSE:-0}" = 1 ] && sed 's/^/    . /' "$out"
	rm -f "$out"
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
