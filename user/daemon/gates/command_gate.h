/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a command gate's run means. Two conventions (the plan picks one):
 *   exit:  status 0 = pass, 1 = fail, anything else (2+, killed by a
 *          signal, not runnable, timed out) = error, like grep and test;
 *   value: status 0 and stdout holding exactly one finite number (spaces
 *          and a newline around it allowed) = that number, judged by the
 *          gate's comparison; anything else = error.
 * Errors carry a reason for the audit trail; none is ever a pass.
 */
#ifndef SLUICED_CMDGATE_H
#define SLUICED_CMDGATE_H

#include <stdbool.h>
#include "cmdrun.h"

enum cmdgate_mode { CMDGATE_EXIT = 0, CMDGATE_VALUE = 1 };

struct cmdgate_out {
	int err;		/* 0 or -errno: the measurement failed */
	bool pass;		/* exit mode */
	double value;		/* value mode */
	char reason[200];
};

void cmdgate_interpret(const struct cmd_result *r, enum cmdgate_mode mode,
		       struct cmdgate_out *o);

/* "NAME=value" strings for the command's environment: SLUICE_SERVICE,
 * SLUICE_VARIANT, SLUICE_RING, SLUICE_STEP, SLUICE_GATE (NULL values are
 * left out). buf holds the strings; env gets up to 6 pointers + NULL. */
void cmdgate_env(char buf[1024], char *env[7], const char *service,
		 const char *variant, const char *ring, int step,
		 const char *gate);

#endif
