#!/usr/bin/env bash
# Boot time (`make bootbench [BOOT_RUNS=5]`): test_reboot_lab.sh RUNS times;
# per run the boot unit's own time (attach + apply) and the time from the
# unit's start to the first connection the lab node forwards (a client
# probing the VIP every 10 ms). Prints each run and the median; needs root.
set -u
cd "$(dirname "$0")/../.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
out=$(mktemp)
trap 'rm -f "$out" "$out.all"' EXIT
for i in $(seq "$runs"); do
	bash tests/integration/test_reboot_lab.sh >"$out" 2>&1 ||
		{ tail -n 20 "$out"; echo "run $i failed" >&2; exit 1; }
	unit=$(sed -n "s/.*boot unit's commands: \([0-9]*\) ms/\1/p" "$out")
	first=$(sed -n 's/.*first forwarded connection: \([0-9]*\) ms/\1/p' "$out")
	echo "run $i: boot unit $unit ms, unit start -> first forwarded connection $first ms"
	echo "$unit $first" >>"$out.all"
done
sort -n -k2 "$out.all" | awk '{u[NR]=$1; f[NR]=$2} END {m=int((NR+1)/2);
	printf "median of %d: unit start -> first forwarded connection %d ms (boot unit %d ms)\n", NR, f[m], u[m]}'
rm -f "$out.all"
