// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Blue-green cutover: every ring's weight to 0 (blue, the baseline) or
 * 10000 (green, the canary) and the last-known-good to the other color, in
 * one configuration publish, so no packet sees the weight without the lkg.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

int sluice_cutover(struct sluice *s, const char *name, int variant)
{
	__u32 *tables[SLUICE_VARIANTS] = {};
	struct sluice_svc_cfg cfg, want;
	__u16 w = variant == SLUICE_CANARY ? SLUICE_BUCKETS : 0;
	__u32 id;
	int err, r;

	if (variant != SLUICE_BASELINE && variant != SLUICE_CANARY)
		return sluice_seterr(s, EINVAL, "no variant %d", variant);
	err = sluice_lock(s);
	if (err)
		return err;
	err = sluice_service_lookup(s, name, &id);
	if (err)
		goto out;
	err = sluice_cfg_read(s, id, &cfg, tables);
	if (err) {
		err = sluice_cfg_read_err(s, err, name);
		goto out;
	}
	want = cfg;
	for (r = 0; r < SLUICE_MAX_RINGS; r++)
		want.weight[r] = w;
	want.lkg = variant == SLUICE_CANARY ? SLUICE_BASELINE : SLUICE_CANARY;
	if (!memcmp(&want, &cfg, sizeof(cfg))) {
		err = 0;
		goto out;
	}
	if (!cfg.nbackends[variant]) {
		err = sluice_seterr(s, ENOENT,
			"service '%s': the %s pool has no active backends to cut over to",
			name, variant == SLUICE_CANARY ? "green (canary)" : "blue (baseline)");
		goto out;
	}
	want.gen++;
	err = sluice_cfg_publish(s, id, &want, (const __u32 **)tables);
	if (!err)
		err = 1;
out:
	free(tables[0]);
	free(tables[1]);
	sluice_unlock(s);
	return err;
}
