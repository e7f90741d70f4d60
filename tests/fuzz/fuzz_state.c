// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the rollout engine's persisted state document
 * (eng_state_from_json, read back from SQLite at every start). A document
 * that loads is written again (eng_state_to_json), which must load and
 * give the same text: no field is lost or invented. Otherwise an error
 * with a reason. Never a crash, leak or sanitizer report.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eng_state *st = calloc(1, sizeof(*st)), *again = calloc(1, sizeof(*again));
	char err[512] = "", *text = malloc(size + 1), *out = NULL, *out2 = NULL;

	if (!st || !again || !text)
		abort();
	memcpy(text, data, size);
	text[size] = 0;
	if (eng_state_from_json(text, st, err, sizeof(err)) == 0) {
		out = eng_state_to_json(st);
		assert(out);
		err[0] = 0;
		if (eng_state_from_json(out, again, err, sizeof(err)))
			abort();	/* what we wrote must load */
		out2 = eng_state_to_json(again);
		assert(out2 && !strcmp(out, out2));
	} else {
		assert(err[0] && memchr(err, 0, sizeof(err)));
	}
	free(out);
	free(out2);
	free(text);
	free(st);
	free(again);
	return 0;
}
