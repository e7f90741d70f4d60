/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The client side of sluiced's control protocol (include/sluice_ctl.h):
 * connect to the socket, send one request line, read one reply line. The
 * CLI uses this; it never links daemon code.
 */
#ifndef SLUICE_CTL_CLIENT_H
#define SLUICE_CTL_CLIENT_H

#include <stddef.h>
#include <jansson.h>
#include "sluice_ctl.h"

struct sluice_ctl;

/* $SLUICE_SOCKET, else SLUICE_CTL_SOCKET. */
const char *sluice_ctl_default_socket(void);

/*
 * Connect (path NULL: the default). NULL with a sentence in err when the
 * daemon is not there ("sluiced is not running: no socket at ...").
 */
struct sluice_ctl *sluice_ctl_connect(const char *path, char *err,
				      size_t errlen);
void sluice_ctl_close(struct sluice_ctl *c);

/*
 * One request: req is a JSON object (its "v" is set here). On 0, *reply
 * holds the daemon's reply whatever its code (json_decref it); -errno
 * with err set when the exchange itself failed.
 */
int sluice_ctl_call(struct sluice_ctl *c, json_t *req, json_t **reply,
		    char *err, size_t errlen);

/* The reply's code (SLUICE_CTL_*), SLUICE_CTL_E_SYNTAX when it has none. */
int sluice_ctl_code(const json_t *reply);

#endif /* SLUICE_CTL_CLIENT_H */
