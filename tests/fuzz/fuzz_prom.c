// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the Prometheus answer parser and the query template
 * expander. Input: byte 0 picks the HTTP status, the rest is the body (and
 * the template). Invariants: no crash, no leak (ASan), a value is finite,
 * an error has a reason, a value has exactly one series.
 *   make fuzz-prom [FUZZ_SECS=60]   (seed corpus: tests/fuzz/corpus/prom/)
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long status[] = { 200, 200, 200, 400, 422, 503, 404, 0 };
	struct sluice_query_vars v = { "web", "canary", "early", "5m" };
	struct prom_result r;
	char out[512], err[200], *tmpl;
	int n;

	if (!size)
		return 0;
	prom_parse(status[data[0] & 7], (const char *)data + 1, size - 1, &r);
	assert(memchr(r.reason, 0, sizeof(r.reason)));
	if (r.err == 0) {
		assert(isfinite(r.value));
		assert(r.nseries == 1);
	} else {
		assert(r.err < 0 && r.reason[0]);
	}
	tmpl = malloc(size);
	memcpy(tmpl, data + 1, size - 1);
	tmpl[size - 1] = 0;
	n = sluice_query_expand(tmpl, &v, out, sizeof(out), err, sizeof(err));
	assert(n < 0 || (size_t)n == strlen(out));
	free(tmpl);
	return 0;
}
