#!/usr/bin/env bash
# Everything CI runs: dependencies, build, the test suite on this kernel,
# then the same suite on Debian's 6.1 kernel under qemu (vmtest; one guest:
# two at once, VMTEST_SHARDS=2, took 1053 s against 987 on this 2-core
# machine, each guest already keeps a core busy).
#   SLUICE_VMTEST_KERNELS="6.1 6.12"  kernels for vmtest ("" to skip)
set -u
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "Error: run as root (BPF, namespaces)" >&2; exit 1; }
scripts/deps.sh || exit 1
# WERROR=1: a warning fails CI; suite: the product and what the tests run
make -j"$(nproc)" WERROR=1 suite >build.log 2>&1 || { tail -n 40 build.log; echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
tests/run.sh | tee "$log"
host_rc=${PIPESTATUS[0]}
read -r pass fail < <(awk '/^[0-9]+ passed, [0-9]+ failed/ {print $1, $3}' "$log" | tail -n 1)
failed=$(sed -n 's/^failed://p' "$log" | tail -n 1)
rm -f "$log"
pass=${pass:-0} fail=${fail:-1}

# A bounded sanitizer run: the userspace unit tests (parsers, the engine,
# the store, the HTTP and command runners: those marked host-only) built
# with AddressSanitizer and UBSan (make sanitize, in build-san/); about a
# minute. `make sanitize` alone runs every unit test and test_cli.
san=$(grep -l 'sluice-test: host-only' tests/unit/*.c | xargs -n1 basename | sed 's/\.c$//' | paste -sd'|')
echo "== sanitize: ${san//|/ }"
if make -j"$(nproc)" sanitize SANITIZE_TESTS="^($san)\$\$" >sanitize.log 2>&1; then
	pass=$((pass + 1)); echo "PASS sanitize"
else
	fail=$((fail + 1)); failed="$failed sanitize"; echo "FAIL sanitize"
	grep -E '^(FAIL|    !)|ERROR: |runtime error' sanitize.log | head -n 20
	tail -n 40 sanitize.log
fi

for k in ${SLUICE_VMTEST_KERNELS-6.1}; do
	echo "== vmtest: the suite on Linux $k under qemu"
	if vmtest/run.sh "$k"; then
		pass=$((pass + 1)); echo "PASS vmtest-$k"
	else
		fail=$((fail + 1)); echo "FAIL vmtest-$k"; failed="$failed vmtest-$k"
	fi
done
# again at the end, where a log cut in the middle still shows it
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$host_rc" -eq 0 ]
