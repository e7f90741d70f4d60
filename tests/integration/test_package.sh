#!/usr/bin/env bash
# The Debian package and `make install`, built from this tree, in scratch
# directories (never the host's /usr or /etc):
# - `make deb` builds it (dpkg-buildpackage in a copy of the tree); its
#   version is VERSION's, its Depends name every runtime library it links;
#   lintian finds no error or warning;
# - unpacked into a scratch root (dpkg -x): both binaries print VERSION, the
#   man pages and the completion are where Debian puts them, the units
#   verify (systemd-analyze verify, ExecStart paths inside the scratch root),
#   /etc files are conffiles, no maintainer script runs sluice (removal and
#   purge never detach a datapath);
# - the packaged sluiced records its version in the state database;
# - `make install DESTDIR= PREFIX=` then `make uninstall` leave only the
#   configuration, which a second install does not overwrite.
# No kernel involved: sluice-test: host-only
set -u
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
command -v dpkg-buildpackage >/dev/null || skip "no dpkg-buildpackage (apt-get install dpkg-dev debhelper)"
command -v dh >/dev/null || skip "no debhelper (apt-get install debhelper)"
VERSION=$(cat VERSION)
TMP=$(mktemp -d /tmp/sl-pkg-XXXXXX)
DPID=
cleanup() { [ -n "$DPID" ] && kill "$DPID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# --- the package
if ! nice make -s deb B="$TMP/b" >"$TMP/deb.log" 2>&1; then
	tail -n 40 "$TMP/deb.log"
	fail "make deb failed"; t_done; exit 1
fi
DEB=$(ls "$TMP"/b/deb/sluice_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
check "make deb: a .deb outside the tree" test -f "$DEB"
[ -f "$DEB" ] || { t_done; exit 1; }
echo "  package: $(basename "$DEB"), $(stat -c %s "$DEB") bytes"
check "the package's version is VERSION's ($VERSION-1)" \
	test "$(dpkg-deb -f "$DEB" Version)" = "$VERSION-1"
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
for lib in libbpf libyaml libjansson libcurl libmicrohttpd libsqlite3; do
	check "Depends names $lib (\${shlibs:Depends})" grep -q "\b$lib" <<<"$DEPENDS"
done
# libelf and zlib are libbpf's (the linker's --as-needed drops them from
# the binaries): libbpf1 depends on them
LIBBPF=$(grep -o 'libbpf[0-9]*' <<<"$DEPENDS" | head -n 1)
if [ -n "$LIBBPF" ] && command -v apt-cache >/dev/null; then
	check "$LIBBPF brings libelf and zlib" \
		bash -c "apt-cache depends $LIBBPF 2>/dev/null | grep -q libelf && apt-cache depends $LIBBPF 2>/dev/null | grep -q zlib1g"
fi
check "make deb left nothing in the tree (no debian/sluice, no debian/files)" \
	bash -c '! [ -e debian/sluice ] && ! [ -e debian/files ] && ! [ -e debian/.debhelper ]'
if command -v lintian >/dev/null; then
	lintian "$DEB" >"$TMP/lintian" 2>&1
	check "lintian: no error or warning" bash -c "! grep -E '^(E|W):' '$TMP/lintian'"
	grep -E '^(E|W):' "$TMP/lintian" | head -n 10 | sed 's/^/    /'
fi

# --- unpacked into a scratch root
R=$TMP/root
dpkg -x "$DEB" "$R"
for b in sluice sluiced; do
	check "$b --version prints $VERSION" \
		bash -c "'$R/usr/sbin/$b' --version | grep -q '^$b $VERSION '"
done
check "man pages: /usr/share/man/man8/sluice.8.gz, sluiced.8.gz" \
	test -f "$R/usr/share/man/man8/sluice.8.gz" -a -f "$R/usr/share/man/man8/sluiced.8.gz"
command -v man >/dev/null &&
	check "man sluice renders (man -l)" bash -c "man -l '$R/usr/share/man/man8/sluice.8.gz' 2>/dev/null | grep -q sluice"
COMP=$R/usr/share/bash-completion/completions/sluice
check "completion: /usr/share/bash-completion/completions/sluice" test -f "$COMP"
if [ -f /usr/share/bash-completion/bash_completion ]; then
	check "the completion loads and completes the objects" bash -c "
		. /usr/share/bash-completion/bash_completion; . '$COMP'
		COMP_WORDS=(sluice at); COMP_CWORD=1; COMP_LINE='sluice at'; COMP_POINT=9
		_sluice sluice at sluice; [[ \" \${COMPREPLY[*]} \" == *' attach '* ]]"
fi
UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
check "units in $UNITDIR" test -f "$R$UNITDIR/sluiced.service" -a -f "$R$UNITDIR/sluice-attach.service"
check "sluice-boot is the package's (/usr/lib/sluice/sluice-boot)" test -x "$R/usr/lib/sluice/sluice-boot"
check "example configuration /etc/sluice/sluice.yaml and /etc/default/sluice" \
	test -f "$R/etc/sluice/sluice.yaml" -a -f "$R/etc/default/sluice"
dpkg-deb -e "$DEB" "$TMP/ctl"
check "both /etc files are conffiles" \
	bash -c "grep -qx /etc/sluice/sluice.yaml '$TMP/ctl/conffiles' && grep -qx /etc/default/sluice '$TMP/ctl/conffiles'"
# the commands systemd would run are inside the scratch root
mkdir -p "$TMP/units"
for u in sluiced.service sluice-attach.service; do
	sed "s|=/usr/|=$R/usr/|; s|EnvironmentFile=-/etc/|EnvironmentFile=-$R/etc/|" \
		"$R$UNITDIR/$u" >"$TMP/units/$u"
done
check "systemd-analyze verify accepts both units" \
	bash -c "MANPATH='$R/usr/share/man' systemd-analyze verify '$TMP/units/sluice-attach.service' '$TMP/units/sluiced.service' 2>'$TMP/verify'"
sed 's/^/    /' "$TMP/verify" | head -n 10
check "the boot unit runs before sluiced, after the network" \
	bash -c "grep -q '^Before=sluiced.service' '$TMP/units/sluice-attach.service' && grep -q '^After=network.target' '$TMP/units/sluice-attach.service'"
check "no maintainer script runs sluice (removal never detaches)" \
	bash -c "! cat '$TMP'/ctl/{prerm,postrm,postinst,preinst} 2>/dev/null | grep -E '^[[:space:]]*(/usr/s?bin/|/s?bin/)?(sluice|bpftool|ip|tc)[[:space:]]'"
check "purge does not remove the pins (/sys/fs/bpf)" bash -c "! grep -q '^[^#]*rm .*/sys/fs/bpf' '$TMP/ctl/postrm'"
check "the boot unit is not started by the package (enabled only)" \
	bash -c "! grep -q 'deb-systemd-invoke.*start.*sluice-attach' '$TMP/ctl/postinst'"

# --- sluice-boot (the boot unit's command) with a stand-in for sluice that
# records its arguments: what it would run, and its refusals
BOOT=$R/usr/lib/sluice/sluice-boot
printf '#!/bin/sh\necho "$*" >>"%s"\n' "$TMP/calls" >"$TMP/fake-sluice"
chmod +x "$TMP/fake-sluice"
touch "$TMP/conf.yaml"
boot() { env -i PATH="$PATH" SLUICE="$TMP/fake-sluice" SLUICE_CONFIG="$TMP/conf.yaml" "$@" "$BOOT" >"$TMP/boot.out" 2>&1; }
rm -f "$TMP/calls"
boot SLUICE_DEVICES="lo:xdpgeneric,conn=4096 lo:tc,reply"
check "sluice-boot: each device attached with its mode and words, then apply" \
	test "$(cat "$TMP/calls" 2>/dev/null)" = "attach lo xdpgeneric conn 4096
attach lo tc reply
apply -f $TMP/conf.yaml"
rm -f "$TMP/calls"
boot SLUICE_DEVICES=""
check "sluice-boot: no devices: nothing run, success, said" \
	bash -c "[ ! -e '$TMP/calls' ] && grep -q 'nothing attached' '$TMP/boot.out'"
boot SLUICE_DEVICES=sl-nodev0 SLUICE_DEVICE_WAIT=0; rc=$?
check "sluice-boot: a device that never appears fails (exit 1), named" \
	bash -c "[ $rc = 1 ] && grep -q 'device sl-nodev0 did not appear' '$TMP/boot.out'"
rm -f "$TMP/calls"
boot SLUICE_DEVICES=lo SLUICE_DEVICE_WAIT=soon; rc=$?
check "sluice-boot: a bad SLUICE_DEVICE_WAIT is refused (exit 2), named" \
	bash -c "[ $rc = 2 ] && grep -q \"SLUICE_DEVICE_WAIT='soon'\" '$TMP/boot.out'"
check "  ... and nothing was run" test ! -e "$TMP/calls"

# --- the state database records the version
mkdir -p "$TMP/run"
"$R/usr/sbin/sluiced" --db "$TMP/run/s.db" --socket "$TMP/run/ctl.sock" --metrics off \
	-d /sys/fs/bpf/sl-pkg-none-$$ >"$TMP/run/log" 2>&1 &
DPID=$!
for _ in $(seq 50); do [ -S "$TMP/run/ctl.sock" ] && break; sleep 0.1; done
kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; DPID=
check "the state database: meta.sluiced_version = $VERSION" \
	test "$(db_version "$TMP/run/s.db")" = "$VERSION"

# --- make install / uninstall (into a DESTDIR)
D=$TMP/dest
make -s install DESTDIR="$D" PREFIX=/usr/local >"$TMP/inst.log" 2>&1 || { tail "$TMP/inst.log"; fail "make install"; }
for f in /usr/local/sbin/sluice /usr/local/sbin/sluiced /usr/local/lib/sluice/sluice-boot \
	 /usr/local/share/man/man8/sluice.8 /usr/local/share/man/man8/sluiced.8 \
	 /usr/local/share/bash-completion/completions/sluice /usr/local/lib/systemd/system/sluiced.service \
	 /usr/local/lib/systemd/system/sluice-attach.service /etc/sluice/sluice.yaml /etc/default/sluice; do
	check "make install: $f" test -e "$D$f"
done
check "make install: the units name PREFIX's binaries" \
	grep -q '^ExecStart=/usr/local/sbin/sluiced ' "$D/usr/local/lib/systemd/system/sluiced.service"
echo "# mine" >>"$D/etc/sluice/sluice.yaml"
make -s install DESTDIR="$D" PREFIX=/usr/local >/dev/null 2>&1
check "a second install keeps the operator's /etc/sluice/sluice.yaml" grep -q '^# mine' "$D/etc/sluice/sluice.yaml"
make -s uninstall DESTDIR="$D" PREFIX=/usr/local >/dev/null 2>&1
left=$(cd "$D" && find . -type f | sort | tr '\n' ' ')
check "make uninstall leaves only the configuration (left: $left)" \
	test "$left" = "./etc/default/sluice ./etc/sluice/sluice.yaml "
t_done
