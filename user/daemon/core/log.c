// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluiced's log: lines on stderr; under journald (JOURNAL_STREAM set) each
 * line carries its syslog priority as a "<N>" prefix, which journald reads. */
#include <stdarg.h>
#include <stdlib.h>
#include "sluiced.h"

void dlog(struct daemon *d, int level, const char *fmt, ...)
{
	static int journal = -1;
	va_list ap;

	if (level == LOG_DEBUG_ && (!d || !d->o.verbose))
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	if (journal)
		fprintf(stderr, "<%d>", level);
	else
		fputs(level <= LOG_ERR_ ? "sluiced: error: " :
		      level == LOG_WARN_ ? "sluiced: warning: " : "sluiced: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
