#!/usr/bin/env bash
# sluiced's rooms are layers (scripts/check_layers.sh, doc/daemon-layers.md):
# no file includes a header of a room above or beside its own, so no two
# rooms import each other. The tree passes, and the check catches an
# include that goes up or sideways when one is planted in a copy.
# sluice-test: host-only
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
TMP=$(mktemp -d /tmp/sl-layers-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

scripts/check_layers.sh > "$TMP/out" 2>&1
rc=$?
check "no room includes a header of a room above or beside it" [ "$rc" = 0 ]
[ "$rc" = 0 ] || sed 's/^/    /' "$TMP/out"

cp -r user/daemon "$TMP/d"
echo '#include "sluiced.h"' >> "$TMP/d/engine/gate.c"
scripts/check_layers.sh "$TMP/d" > "$TMP/out" 2>&1
check "planted: engine including core's header is caught" \
	grep -q "^engine/gate.c includes sluiced.h: core/ is above engine/" "$TMP/out"

cp -r user/daemon "$TMP/e"
echo '#include "cmdrun.h"' >> "$TMP/e/engine/seqtest.c"
echo '#include "prober.h"' >> "$TMP/e/gates/command_gate.c"
scripts/check_layers.sh "$TMP/e" > "$TMP/out" 2>&1
check "planted: the check fails" [ $? = 1 ]
check "planted: engine including io is caught" \
	grep -q "^engine/seqtest.c includes cmdrun.h: io/ is above engine/" "$TMP/out"
check "planted: gates including health (beside it) is caught" \
	grep -q "^gates/command_gate.c includes prober.h: health/ is beside gates/" "$TMP/out"

mkdir "$TMP/e/newroom"
scripts/check_layers.sh "$TMP/e" > "$TMP/out" 2>&1
check "a room without a layer is refused by name" grep -q "newroom: a room without a layer" "$TMP/out"
t_done
