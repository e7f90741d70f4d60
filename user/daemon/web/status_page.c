// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The status page's static files, user/daemon/web/www/, built into sluiced
 * (the assembler's .incbin, path from the top of the tree where make
 * runs): the page needs nothing from the network or the disk at run time.
 */
#include <string.h>
#include "metrics.h"

/* a NUL-terminated copy of FILE between SYM and SYM_end, read-only */
#define STATUS_FILE(sym, file)						\
	__asm__(".pushsection .rodata\n"				\
		".global " #sym "\n"					\
		".global " #sym "_end\n"				\
		".balign 16\n"						\
		#sym ":\n"						\
		".incbin \"user/daemon/web/www/" file "\"\n"		\
		#sym "_end:\n"						\
		".byte 0\n"						\
		".popsection\n");					\
	extern const char sym[], sym##_end[]

STATUS_FILE(sluiced_www_html, "status.html");
STATUS_FILE(sluiced_www_js, "status.js");
STATUS_FILE(sluiced_www_css, "status.css");

static const struct status_file files[] = {
	{ "/", "text/html; charset=utf-8", sluiced_www_html, sluiced_www_html_end },
	{ "/status.js", "text/javascript; charset=utf-8", sluiced_www_js, sluiced_www_js_end },
	{ "/status.css", "text/css; charset=utf-8", sluiced_www_css, sluiced_www_css_end },
};

const struct status_file *status_file_find(const char *url)
{
	unsigned int i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!strcmp(url, files[i].path))
			return &files[i];
	return NULL;
}
