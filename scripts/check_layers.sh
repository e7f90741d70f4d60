#!/usr/bin/env bash
# sluiced's rooms are layers (doc/daemon-layers.md): a file may
# include headers of its own room and of rooms below it, never of a room
# above it or beside it, so no two rooms import each other. From the
# bottom:
#   0 engine   the pure rollout engine (no I/O; built with only its own
#              folder on the include path)
#   1 io       adapters: the scheduler, HTTP client, command runner,
#              Prometheus, etcd, the store, the clocks
#   2 gates    external gates (Prometheus, command) on the engine and io
#   2 health   the health checker and its pool marks
#   3 web      /metrics, the status page, the HTTP listener
#   4 core     struct daemon: rollout table, sampling, actuation, audit,
#              control protocol, and each module's glue to the daemon
#   5 fleet    the fleet (etcd session, mirror, leader) on top of the
#              node's rollouts
# The program, core/main.c and core/modules.c (the module table), names
# every module (chrony's main.c initialises each by name; BIRD's protocol
# table): it may include any room.
# Usage: scripts/check_layers.sh [DAEMON_DIR]   (default user/daemon)
# Prints each include that goes upward or sideways; exit 1 if any.
set -u
DIR=${1:-user/daemon}
declare -A RANK=([engine]=0 [io]=1 [gates]=2 [health]=2 [web]=3 [core]=4 [fleet]=5)
PROGRAM="core/main.c core/modules.c"

[ -d "$DIR" ] || { echo "check_layers: no directory $DIR" >&2; exit 2; }
declare -A ROOM_OF	# header name -> room
bad=0
for d in "$DIR"/*/; do
	room=$(basename "$d")
	[ "$room" = www ] && continue
	if [ -z "${RANK[$room]+x}" ]; then
		echo "$DIR/$room: a room without a layer (add it to scripts/check_layers.sh and the doc)"
		bad=1
		continue
	fi
	for h in "$d"*.h; do
		[ -e "$h" ] || continue
		n=$(basename "$h")
		if [ -n "${ROOM_OF[$n]+x}" ]; then
			echo "$DIR/$room/$n: the name is also a header of ${ROOM_OF[$n]}/ (includes would be ambiguous)"
			bad=1
		fi
		ROOM_OF[$n]=$room
	done
done
while IFS= read -r hit; do
	f=${hit%%:*}
	n=${hit#*:}
	n=${n#*\"}
	n=${n%%\"*}
	rel=${f#"$DIR"/}
	room=${rel%%/*}
	[ -n "${RANK[$room]+x}" ] || continue
	case " $PROGRAM " in *" $rel "*) continue ;; esac
	to=${ROOM_OF[${n##*/}]:-}
	[ -n "$to" ] && [ "$to" != "$room" ] || continue
	if [ "${RANK[$to]}" -ge "${RANK[$room]}" ]; then
		if [ "${RANK[$to]}" -gt "${RANK[$room]}" ]; then how=above; else how=beside; fi
		echo "$rel includes $n: $to/ is $how $room/ (layer ${RANK[$to]} from layer ${RANK[$room]})"
		bad=1
	fi
done < <(grep -H -o '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*"' "$DIR"/*/*.[ch])
exit $bad
