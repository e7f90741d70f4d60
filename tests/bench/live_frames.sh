#!/usr/bin/env bash
# need_live_frames GEN: skip (the caller's `skip`) where the kernel refuses
# live-frame test runs (BPF_F_TEST_XDP_LIVE_FRAMES answers EPERM even to
# root on some hardened or sandboxed builds, on loopback too): GEN, the
# benchmarks' generator, cannot send a frame there. Asked once, on the
# loopback of a namespace of its own.
need_live_frames() {
	local ns=sl-genprobe-$$ out rc
	ip netns add "$ns" || skip "cannot create a namespace"
	out=$(ip netns exec "$ns" "$1" -i lo --dst-mac 02:00:00:00:00:01 -c 0 --count 1 2>&1)
	rc=$?
	ip netns del "$ns"
	[ "$rc" = 0 ] && return 0
	case $out in
	*"not permitted"*) skip "this kernel refuses live-frame test runs (BPF_F_TEST_XDP_LIVE_FRAMES): ${out##*: }; the generator cannot run" ;;
	esac
	echo "the generator's probe failed: $out" >&2
	return 1
}
