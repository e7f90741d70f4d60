#!/usr/bin/env bash
# tests/run.sh bounds every test: a stuck test (a child in its process
# group, a process in a network namespace it made) fails alone after
# SLUICE_TEST_TIMEOUT, leaves no process or namespace behind, and the next
# test still runs; SLUICE_TEST_DEADLINE stops starting tests that it leaves
# no time for. The runner itself, not the kernel: sluice-test: host-only
set -u
cd "$(dirname "$0")/../.."
source tests/integration/lib.sh
need_root
command -v ip >/dev/null || skip "needs iproute2"

tmp=$(mktemp -d) ns=slrun-$$ mark=$((7000000 + $$))
cleanup() {
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/tests"
# stuck: a background child, a process inside a namespace of its own, and
# a foreground wait that never ends
cat >"$tmp/tests/test_zz1stuck_$$" <<EOF
#!/usr/bin/env bash
ip netns add $ns || exit 3
ip netns exec $ns sleep $mark &
sleep $mark &
echo "stuck now"
wait
EOF
printf '#!/bin/sh\necho fine\n' >"$tmp/tests/test_zz2after_$$"
chmod +x "$tmp/tests/"*
filter="^test_zz(1stuck|2after)_$$\$"

start=$(date +%s)
out=$(SLUICE_BUILD=$tmp SLUICE_TEST_TIMEOUT=3 SLUICE_TEST_FILTER=$filter \
	tests/run.sh 2>&1)
rc=$?
took=$(($(date +%s) - start))
echo "$out" | sed 's/^/    | /'
check "the run fails" [ "$rc" != 0 ]
check "the stuck test fails as timed out" \
	grep -q "^FAIL test_zz1stuck_$$ (timed out after 3s" <<<"$out"
check "the test after it still runs and passes" grep -q "^PASS test_zz2after_$$" <<<"$out"
check "the run did not wait for the stuck test's children ($took s)" [ "$took" -lt 60 ]
no_proc() { ! pgrep -f "sleep $mark" >/dev/null; }
no_ns() { ! ip netns list | grep -qw "$ns"; }
check "no process of the stuck test is left" no_proc
check "the namespace it made is gone" no_ns
check "the log says which namespace was removed" \
	grep -q "removed network namespace $ns" <<<"$out"

# a deadline already near: nothing starts, each test fails as not run
out=$(SLUICE_BUILD=$tmp SLUICE_TEST_DEADLINE=$(($(date +%s) + 20)) \
	SLUICE_TEST_FILTER=$filter tests/run.sh 2>&1)
rc=$?
check "near the deadline the run fails" [ "$rc" != 0 ]
check "near the deadline no test starts" \
	[ "$(grep -c '^FAIL test_zz.*: not run' <<<"$out")" = 2 ]
t_done
