// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the command-line parser. The input is an argument
 * vector (arguments separated by NUL or newline bytes) handed to the CLI's
 * main (built as sluice_cli_main). Nothing may act on the system: this
 * file replaces cli_open() (no instance ever opens, so every command stops
 * after parsing its arguments), the decap attach/detach calls (which
 * need no instance) and, for the rollout commands, the connection to
 * sluiced (cmd_rollout.c is built calling fuzz_ctl_connect). Each run resets the CLI's global state.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <getopt.h>
#include "cli.h"

int sluice_cli_main(int argc, char **argv);

struct sluice *cli_open(bool create)
{
	(void)create;
	pr_error("fuzz: no instance");
	return NULL;
}

int sluice_decap_attach(const char *ifname, char *err, size_t errlen)
{
	snprintf(err, errlen, "fuzz: not attaching to %s", ifname);
	return -EPERM;
}

int sluice_decap_detach(const char *ifname, char *err, size_t errlen)
{
	snprintf(err, errlen, "fuzz: not detaching from %s", ifname);
	return -EPERM;
}

struct sluice_ctl;
struct sluice_ctl *fuzz_ctl_connect(const char *path, char *err, size_t errlen);
struct sluice_ctl *fuzz_ctl_connect(const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "fuzz: not connecting to %s", path ? path : "sluiced");
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	/* the CLI's own output is noise: run with -close_fd_mask=3, which
	 * keeps libFuzzer's and the sanitizers' reports (tests/fuzz/run.sh) */
	freopen("/dev/null", "r", stdin);	/* apply -f - reads nothing */
	unsetenv("SLUICE_PIN_DIR");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *argv[66];
	size_t i, start = 0;
	int argc = 0;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "sluice";
	for (i = 0; i <= size && argc < 65; i++) {
		if (i == size || buf[i] == '\0' || buf[i] == '\n') {
			buf[i] = '\0';
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	memset(&cli, 0, sizeof(cli));
	optind = 0;	/* glibc: reinitialise getopt */
	sluice_cli_main(argc, argv);
	free(buf);
	return 0;
}
