// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the rollout-plan parser and validator. A plan that
 * parses is also resolved against a fixed set of rings (in every mode) and
 * written back as YAML, which must parse again. Never a crash, a leak or a
 * sanitizer report; an error always says what is wrong.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sluice.h"
#include "plan.h"

static int ring_id(void *ctx, const char *name)
{
	static const char *const rings[] = { "default", "early", "internal" };
	int i;

	(void)ctx;
	for (i = 0; i < 3; i++)
		if (!strcmp(name, rings[i]))
			return i;
	return -ENOENT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sluice_plan *plan, *again;
	char err[512] = "", *text, *yaml;
	__u8 mode;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	plan = sluice_plan_parse_string(text, "fuzz.yaml", err, sizeof(err));
	free(text);
	if (!plan) {
		if (!err[0])
			abort();	/* an error must say what is wrong */
		return 0;
	}
	yaml = sluice_plan_to_yaml(plan, 0);
	if (yaml) {
		again = sluice_plan_parse_string(yaml, "again.yaml", err, sizeof(err));
		if (!again)
			abort();	/* what we write, we read */
		sluice_plan_free(again);
		free(yaml);
	}
	for (mode = 0; mode < SLUICE_MODES; mode++)
		sluice_plan_resolve(plan, mode, ring_id, NULL, err, sizeof(err));
	sluice_plan_free(plan);
	return 0;
}
