/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small test harness: named subtests, assertions that say what they
 * checked, a private sluice instance per test binary, and a closing line.
 * Exit status: 0 all passed, 77 skipped, 1 a failure.
 */
#ifndef SLUICE_TEST_H
#define SLUICE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "sluice.h"

static int t_fail, t_checks;
static const char *t_sub = "";

#define ASSERT_TRUE(cond, what) ({                                           \
	int __ok = !!(cond);                                                 \
	t_checks++;                                                          \
	if (!__ok) {                                                         \
		t_fail++;                                                    \
		fprintf(stderr, "  FAIL [%s] %s:%d: %s\n", t_sub, __FILE__,   \
			__LINE__, what);                                     \
	}                                                                    \
	__ok; })

#define ASSERT_EQ(got, want, what) ({                                        \
	long long __g = (long long)(got), __w = (long long)(want);           \
	int __ok = __g == __w;                                               \
	t_checks++;                                                          \
	if (!__ok) {                                                         \
		t_fail++;                                                    \
		fprintf(stderr, "  FAIL [%s] %s:%d: %s: got %lld, want %lld\n", \
			t_sub, __FILE__, __LINE__, what, __g, __w);          \
	}                                                                    \
	__ok; })

#define ASSERT_OK(err, what) ASSERT_EQ((err) < 0 ? (err) : 0, 0, what)

#define ASSERT_RANGE(got, lo, hi, what) ({                                   \
	double __g = (got), __l = (lo), __h = (hi);                          \
	int __ok = __g >= __l && __g <= __h;                                 \
	t_checks++;                                                          \
	if (!__ok) {                                                         \
		t_fail++;                                                    \
		fprintf(stderr, "  FAIL [%s] %s:%d: %s: got %.4f, want [%.4f, %.4f]\n", \
			t_sub, __FILE__, __LINE__, what, __g, __l, __h);     \
	}                                                                    \
	__ok; })

static inline void subtest(const char *name)
{
	t_sub = name;
	fprintf(stderr, "- %s\n", name);
}

static char t_pin_dir[128];
static struct sluice *t_sl;

static void t_cleanup(void)
{
	if (t_sl)
		sluice_close(t_sl);
	t_sl = NULL;
	if (t_pin_dir[0])
		sluice_destroy(t_pin_dir);
}

static inline void t_skip(const char *why)
{
	fprintf(stderr, "%s\n", why);
	exit(77);
}

/* A fresh instance in a private pin directory, removed at exit. */
/* Under vmtest (qemu TCG, ~10x slower): slow tests run smaller counts. */
static inline bool t_in_vm(void)
{
	const char *e = getenv("SLUICE_IN_VM");

	return e && !strcmp(e, "1");
}

static inline struct sluice *t_instance(const char *tag, __u32 conn_entries)
{
	struct sluice_open_opts o = { .create = true, .conn_entries = conn_entries,
				      .verbose = getenv("SLUICE_TEST_VERBOSE") ? 1 : 0 };
	char why[512];

	if (geteuid() != 0)
		t_skip("needs root (BPF maps and programs)");
	snprintf(t_pin_dir, sizeof(t_pin_dir), "/sys/fs/bpf/sluice-test-%s-%d",
		 tag, getpid());
	o.pin_dir = t_pin_dir;
	atexit(t_cleanup);
	t_sl = sluice_open(&o, why, sizeof(why));
	if (!t_sl) {
		fprintf(stderr, "cannot open a sluice instance: %s\n", why);
		exit(1);
	}
	return t_sl;
}

static inline int t_done(void)
{
	printf("%d checks, %d failed\n", t_checks, t_fail);
	return t_fail ? 1 : 0;
}

#endif
