// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the YAML configuration parser and validator
 * (sluice_config_parse_string: schema, types, ranges, duplicates, ring
 * overlaps, limits). Any input must give a configuration or an error
 * message with a position, never a crash, leak or sanitizer report.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sluice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sluice_config *c;
	char err[512] = "", *text;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	c = sluice_config_parse_string(text, "fuzz.yaml", err, sizeof(err));
	if (!c && !err[0])
		abort();	/* an error must say what is wrong */
	sluice_config_free(c);
	free(text);
	return 0;
}
