// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Text parsers shared by the CLI, the daemon and the tests. Strict: the whole
 * string must be consumed, or -EINVAL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "internal.h"

int sluice_parse_addr(const char *str, union sluice_addr *a, __u8 *family)
{
	memset(a, 0, sizeof(*a));
	if (!str || !*str)
		return -EINVAL;
	if (inet_pton(AF_INET, str, &a->v4) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, str, a->bytes) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* "10.0.0.0/8", "fd00::/8"; a bare address is a host prefix. Host bits
 * must be zero, so that "10.1.2.3/8" is an error rather than a surprise. */
int sluice_parse_prefix(const char *str, struct sluice_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;
	int max, i;

	if (!str || strlen(str) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, str);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (sluice_parse_addr(buf, &p->addr, &p->family) < 0)
		return -EINVAL;
	max = p->family == AF_INET ? 32 : 128;
	len = max;
	if (slash) {
		if (!isdigit((unsigned char)slash[1]))
			return -EINVAL;
		len = strtoul(slash + 1, &end, 10);
		if (*end || len > (unsigned long)max)
			return -EINVAL;
	}
	p->len = len;
	for (i = len; i < max; i++)
		if (p->addr.bytes[i / 8] & (0x80 >> (i % 8)))
			return -EDOM;	/* host bits set */
	return 0;
}

/* "5%", "0.25%", "500bp", "100%" -> basis points. At most two decimals. */
int sluice_parse_weight(const char *str, unsigned int *bp)
{
	unsigned long whole = 0, frac = 0;
	int fdigits = 0;
	const char *p = str;

	if (!str || !isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		whole = whole * 10 + (*p++ - '0');
		if (whole > 1000000)
			return -ERANGE;
	}
	if (!strcmp(p, "bp")) {
		if (whole > SLUICE_BUCKETS)
			return -ERANGE;
		*bp = whole;
		return 0;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			if (++fdigits > 2)
				return -EINVAL;	/* finer than one bucket */
			frac = frac * 10 + (*p++ - '0');
		}
		if (fdigits == 1)
			frac *= 10;
	}
	if (strcmp(p, "%"))
		return -EINVAL;
	if (whole > 100 || (whole == 100 && frac))
		return -ERANGE;
	*bp = whole * 100 + frac;
	return 0;
}

int sluice_parse_mac(const char *str, __u8 mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (!str || sscanf(str, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
			   &b[3], &b[4], &b[5], &tail) != 6 || strlen(str) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

void sluice_format_addr(const union sluice_addr *a, __u8 family, char *buf,
			size_t len)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET,
		       family == AF_INET6 ? (const void *)a->bytes
					  : (const void *)&a->v4, buf, len))
		snprintf(buf, len, "?");
}
