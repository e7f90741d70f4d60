// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the control socket's request parser
 * (ctl_parse_request: JSON, version, command, fields, types, lengths).
 * Invariants: no crash, leak or sanitizer report; a refused request has a
 * code and a message; an accepted one has a known command, a service name
 * that fits, and strings within their limits.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sluiced.h"

/* ctl_server.c's other parts need a daemon: never called here */
void ro_command(struct daemon *d, int cmd, const struct ctl_args *a, struct ctl_result *res)
{
	abort();
}
void dlog(struct daemon *d, int level, const char *fmt, ...) {}
__u64 now_ms(void) { return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_result res = { .code = SLUICE_CTL_OK };
	struct ctl_args a = { 0 };
	json_t *root = NULL;
	int cmd = -1;

	if (ctl_parse_request((const char *)data, size, &cmd, &root, &a, &res) == 0) {
		assert(res.code == SLUICE_CTL_OK);
		assert(cmd >= 0 && cmd < SLUICE_CTL_NCMDS);
		assert(!a.service || (strlen(a.service) > 0 && strlen(a.service) < SLUICE_NAME_LEN));
		assert(!a.plan || (*a.plan && strlen(a.plan) <= SLUICE_CTL_MAX_PLAN));
		assert(!a.reason || strlen(a.reason) <= SLUICE_CTL_MAX_REASON);
		assert(!a.who || strlen(a.who) <= SLUICE_CTL_MAX_WHO);
		assert(!a.plan_name || a.plan);
	} else {
		assert(res.code != SLUICE_CTL_OK && res.error[0]);
		assert(memchr(res.error, 0, sizeof(res.error)));
	}
	json_decref(root);
	return 0;
}
