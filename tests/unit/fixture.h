/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Test services whose backends can be told apart by the destination MAC of
 * a forwarded frame: 02:be:00:00:<variant>:<index>. */
#ifndef SLUICE_TEST_FIXTURE_H
#define SLUICE_TEST_FIXTURE_H

#include <sys/mman.h>
#include "test.h"
#include "pkt.h"

/* Forget every unconfirmed entry of the instance at pin: conn_new is an
 * array of slots (sluice_abi.h), and a zeroed slot holds nothing. */
static inline void t_clear_unconfirmed(const char *pin)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[512];
	void *mem;
	int fd;

	snprintf(path, sizeof(path), "%s/conn_new", pin);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
		size_t sz = (size_t)info.max_entries * info.value_size;

		mem = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (mem != MAP_FAILED) {
			memset(mem, 0, sz);
			munmap(mem, sz);
		}
	}
	close(fd);
}

static inline void t_pool(struct sluice_service_spec *sp, int variant, int n,
			  int first)
{
	int i;

	for (i = 0; i < n; i++) {
		struct sluice_backend_spec *b = &sp->pool[variant].be[sp->pool[variant].n++];
		char a[64];
		int idx = first + i;

		memset(b, 0, sizeof(*b));
		if (sp->family == AF_INET)
			snprintf(a, sizeof(a), "10.%d.%d.%d", 10 + variant,
				 idx / 250, idx % 250 + 1);
		else
			snprintf(a, sizeof(a), "fd00:%d::%x", 10 + variant, idx + 1);
		sluice_parse_addr(a, &b->addr, &b->family);
		b->weight = 100;
		b->has_mac = true;
		b->mac[0] = 0x02;
		b->mac[1] = 0xbe;
		b->mac[4] = variant;
		b->mac[5] = idx;
	}
}

static inline struct sluice_service_spec *
t_spec(const char *name, const char *vip, __u16 port, __u8 proto, int nbase,
       int ncanary)
{
	struct sluice_service_spec *sp = sluice_spec_new();

	snprintf(sp->name, sizeof(sp->name), "%s", name);
	sluice_parse_addr(vip, &sp->vip, &sp->family);
	sp->port = port;
	sp->proto = proto;
	t_pool(sp, SLUICE_BASELINE, nbase, 0);
	t_pool(sp, SLUICE_CANARY, ncanary, 0);
	return sp;
}

/* The backend a forwarded frame went to: variant * 256 + index, or -1. */
static inline int t_backend_of(const __u8 *frame)
{
	if (frame[0] != 0x02 || frame[1] != 0xbe)
		return -1;
	return frame[4] * 256 + frame[5];
}

static inline int t_variant_of(const __u8 *frame)
{
	int b = t_backend_of(frame);

	return b < 0 ? -1 : b / 256;
}

/* Send one packet of flow f through prog; the backend it reached or -1. */
static inline int t_send(int prog, const struct flow *f, int *verdict)
{
	FRAME_BUF(in, 256);
	FRAME_BUF(out, 2048);
	__u32 olen = 0;
	int len = build_pkt(in, f, NULL), v;

	v = t_run(prog, in, len, out, &olen);
	if (verdict)
		*verdict = v;
	return olen >= 14 ? t_backend_of(out) : -1;
}

/* 1 if flow f went to a canary backend, 0 if to a baseline one. */
static inline int t_variant_of_send(int prog, const struct flow *f)
{
	int b = t_send(prog, f, NULL);

	return b >= 256;
}

#endif
