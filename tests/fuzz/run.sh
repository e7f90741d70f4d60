#!/usr/bin/env bash
# run.sh SECONDS FUZZER...: each libFuzzer target for SECONDS from its seed
# corpus (tests/fuzz/corpus/NAME); new inputs go to a scratch directory.
# Exit non-zero on the first crash, leak or sanitizer report (libFuzzer
# leaves crash-*/leak-* reproducers in the current directory).
set -u
secs=$1; shift
rc=0
for f in "$@"; do
	name=$(basename "$f"); name=${name#fuzz_}
	seeds=$(dirname "$0")/corpus/$name
	work=$(mktemp -d /tmp/sluice-fuzz-$name-XXXXXX)
	echo "fuzz $name: ${secs}s from $seeds"
	# -close_fd_mask=3: the target's stdout/stderr closed, reports kept
	if ! "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 \
		-print_final_stats=1 "$work" "$seeds" 2>"$work.log"; then
		tail -n 40 "$work.log"
		echo "fuzz $name: FAILED (log $work.log)"
		rc=1
	else
		grep -E "stat::number_of_executed_units|cov:" "$work.log" | tail -n 2
		rm -f "$work.log"
	fi
	rm -rf "$work"
done
exit $rc
