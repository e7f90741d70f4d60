#!/usr/bin/env bash
# sluice-test: host-only
# Every libFuzzer target (build/fuzz/fuzz_*: the YAML configuration parser
# and validator, the plan parser, the CLI argument parser, Prometheus
# answers, the control socket's requests, the engine's state document, the
# fleet's etcd values) for a short bounded time from
# its committed seed corpus (FUZZ_TEST_SECONDS each, default 6). Fails on
# any crash, leak, timeout or sanitizer report. `make fuzz-user` runs longer.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
B=${SLUICE_BUILD:-build}
shopt -s nullglob
bins=("$B"/fuzz/fuzz_*)
[ ${#bins[@]} -gt 0 ] || skip "no fuzz targets built (make: needs clang with libFuzzer)"
cd "$(mktemp -d /tmp/sl-fuzz-XXXXXX)" || exit 1
trap 'rm -rf "$PWD"' EXIT
for f in "${bins[@]}"; do
	name=$(basename "$f")
	check "$name: ${FUZZ_TEST_SECONDS:-6}s from its seeds, no crash, leak or sanitizer report" \
		"$OLDPWD/tests/fuzz/run.sh" "${FUZZ_TEST_SECONDS:-6}" "$OLDPWD/$f"
done
t_done
