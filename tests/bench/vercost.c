// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * vercost: the verifier's cost of each sluice program on the running kernel
 * (processed instructions, peak states, time), loaded the way sluice_open()
 * loads them (default table sizes, the loader's masks). The kernel refuses a
 * program past 1M processed instructions; this says how close each one is.
 *
 *   vercost [-v|-vv]   -v: the whole log of a program the kernel refuses,
 *                      -vv: every program's whole log
 *
 * One line per program: "NAME processed=N states=PEAK time_us=T" (or
 * "NAME REFUSED ..." with the log's last lines). Exit 1 when one is refused.
 * Needs root; pins under /sys/fs/bpf/sluice-vercost-PID, removed on exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice_abi.h"
#include "sluice.skel.h"

#define LOG_SZ (16u << 20)
#define LOG_SZ_V (1000u << 20)	/* the kernel takes up to 1G - 1 */

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	(void)l; (void)f; (void)ap;
	return 0;
}

static const char *kconfig(void)
{
	struct utsname u;
	char p[512];

	if (access("/proc/config.gz", R_OK) == 0)
		return NULL;
	if (uname(&u) == 0) {
		snprintf(p, sizeof(p), "/boot/config-%s", u.release);
		if (access(p, R_OK) == 0)
			return NULL;
	}
	return "CONFIG_HZ=0\n";
}

/* "verification time T usec" / "processed N insns (limit ...) ... peak_states P" */
static void stats(const char *name, const char *log, int ok, int verbose)
{
	const char *p = strstr(log, "processed "), *t = strstr(log, "verification time ");
	const char *s = strstr(log, "peak_states ");
	long ins = p ? atol(p + 10) : -1, us = t ? atol(t + 18) : -1;
	long st = s ? atol(s + 12) : -1;
	size_t n = strlen(log);

	printf("%s %s processed=%ld states=%ld time_us=%ld\n", name,
	       ok ? "ok" : "REFUSED", ins, st, us);
	if (verbose > 1)
		fputs(log, stdout);
	else if (!ok)
		fputs(verbose || n < 2000 ? log : log + n - 2000, stdout);
}

/* One program alone (the others not loaded): 1 when the kernel refuses it. */
static int load_one(const char *pin, int which, int verbose)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .kconfig = kconfig(),
		    .pin_root_path = pin);
	__u32 slots = SLUICE_CONN_MIN, door = SLUICE_DOOR_MIN;
	struct bpf_program *prog, *mine = NULL;
	struct sluice_bpf *skel;
	char *log;
	int i = 0, ok;

	skel = sluice_bpf__open_opts(&oo);
	if (!skel) {
		fprintf(stderr, "vercost: open: %s\n", strerror(errno));
		return -1;
	}
	while (slots < SLUICE_CONN_MAX && slots < SLUICE_CONN_NEW_DEFAULT)
		slots <<= 1;
	while (door < SLUICE_DOOR_MAX && door < 2ull * SLUICE_CONN_DEFAULT)
		door <<= 1;
	bpf_map__set_max_entries(skel->maps.conn_new, slots);
	bpf_map__set_max_entries(skel->maps.conn_door, door);
	skel->rodata->slot_mask = slots - 1;
	skel->rodata->door_mask = door - 1;
	bpf_object__for_each_program(prog, skel->obj) {
		bpf_program__set_autoload(prog, i == which);
		if (i++ == which)
			mine = prog;
	}
	if (!mine) {
		sluice_bpf__destroy(skel);
		return -1;
	}
	log = calloc(1, verbose ? LOG_SZ_V : LOG_SZ);
	if (!log)
		return -1;
	bpf_program__set_log_level(mine, verbose > 1 ? 1 | 2 | 4 : verbose ? 1 | 4 : 4);
	bpf_program__set_log_buf(mine, log, verbose ? LOG_SZ_V : LOG_SZ);
	sluice_bpf__load(skel);
	ok = bpf_program__fd(mine) >= 0;
	stats(bpf_program__name(mine), log, ok, verbose);
	free(log);
	bpf_object__unpin_maps(skel->obj, NULL);
	sluice_bpf__destroy(skel);
	return !ok;
}

int main(int argc, char **argv)
{
	int verbose = argc > 1 && !strcmp(argv[1], "-v") ? 1 :
		      argc > 1 && !strcmp(argv[1], "-vv") ? 2 : 0;
	int i, rc, bad = 0;
	char pin[128];

	libbpf_set_print(quiet);
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/sluice-vercost-%d", getpid());
	if (mkdir(pin, 0700) < 0) {
		fprintf(stderr, "vercost: %s: %s\n", pin, strerror(errno));
		return 1;
	}
	for (i = 0; (rc = load_one(pin, i, verbose)) >= 0; i++)
		bad |= rc;
	rmdir(pin);
	return bad;
}
