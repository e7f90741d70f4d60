// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Identities of pools and services, and the local promotion records
 * (sluice.h): one small file per pin directory and service under
 * $SLUICE_STATE_DIR/promoted/, written whole (a temporary file, fsync,
 * rename), read by sluice apply. Outside bpffs so that a reboot, which
 * takes the pins, keeps it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "internal.h"

#define STATE_DIR_DEFAULT	"/var/lib/sluice"

static __u64 fnv64(__u64 h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 1099511628211ull;
	return h;
}

__u64 sluice_pool_identity(const struct sluice_pool_spec *pool, unsigned int *nactive)
{
	__u64 h = 14695981039346656037ull;
	unsigned int i, n = 0;

	for (i = 0; i < pool->n && i < SLUICE_POOL_MAX; i++) {
		const struct sluice_backend_spec *b = &pool->be[i];
		size_t alen = b->family == AF_INET6 ? 16 : 4;

		if (b->draining)
			continue;
		n++;
		h = fnv64(h, &b->family, sizeof(b->family));
		h = fnv64(h, &b->addr, alen);
		h = fnv64(h, &b->port, sizeof(b->port));
		h = fnv64(h, &b->weight, sizeof(b->weight));
		h = fnv64(h, &b->has_mac, sizeof(b->has_mac));
		if (b->has_mac)
			h = fnv64(h, b->mac, sizeof(b->mac));
		h = fnv64(h, b->dev, strnlen(b->dev, sizeof(b->dev)));
	}
	if (nactive)
		*nactive = n;
	return n ? (h ? h : 1) : 0;
}

__u64 sluice_promotion_key(const struct sluice_service_spec *sp)
{
	__u64 h = 14695981039346656037ull, id[2];

	h = fnv64(h, sp->name, strnlen(sp->name, sizeof(sp->name)));
	h = fnv64(h, &sp->family, sizeof(sp->family));
	h = fnv64(h, &sp->vip, sp->family == AF_INET6 ? 16 : 4);
	h = fnv64(h, &sp->proto, sizeof(sp->proto));
	h = fnv64(h, &sp->port, sizeof(sp->port));
	h = fnv64(h, &sp->mode, sizeof(sp->mode));
	id[0] = sluice_pool_identity(&sp->pool[SLUICE_BASELINE], NULL);
	id[1] = sluice_pool_identity(&sp->pool[SLUICE_CANARY], NULL);
	h = fnv64(h, id, sizeof(id));
	return h ? h : 1;
}

/* DIR/promoted/PIN (the pin directory, '/' as '%')[/SERVICE] */
static int rec_path(struct sluice *s, const char *service, char *buf, size_t len)
{
	const char *dir = getenv("SLUICE_STATE_DIR");
	char pin[PATH_MAX];
	size_t i;
	int n;

	if (!dir || !*dir)
		dir = STATE_DIR_DEFAULT;
	for (i = 0; s->pin_dir[i] && i + 1 < sizeof(pin); i++)
		pin[i] = s->pin_dir[i] == '/' ? '%' : s->pin_dir[i];
	pin[i] = 0;
	n = service ? snprintf(buf, len, "%s/promoted/%s/%s", dir, pin, service)
		    : snprintf(buf, len, "%s/promoted/%s", dir, pin);
	if (n < 0 || (size_t)n >= len)
		return sluice_seterr(s, ENAMETOOLONG, "promotion record: path too long");
	return 0;
}

int sluice_promotion_get(struct sluice *s, const char *service,
			 struct sluice_promotion *out)
{
	char path[PATH_MAX];
	unsigned long long f, t, r, a;
	int err = rec_path(s, service, path, sizeof(path)), n;
	FILE *fp;

	if (err)
		return err;
	fp = fopen(path, "re");
	if (!fp)
		return errno == ENOENT ? -ENOENT :
		       sluice_seterr(s, errno, "%s: %s", path, strerror(errno));
	n = fscanf(fp, "from %llx to %llx rollout %llu at %llu", &f, &t, &r, &a);
	fclose(fp);
	if (n != 4)
		return sluice_seterr(s, EINVAL, "%s: not a promotion record", path);
	out->from = f;
	out->to = t;
	out->rollout_id = r;
	out->at_ms = a;
	return 0;
}

static int mkdirs(char *path)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0700) && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	return mkdir(path, 0700) && errno != EEXIST ? -errno : 0;
}

int sluice_promotion_put(struct sluice *s, const char *service,
			 const struct sluice_promotion *p)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
	int err, fd;
	FILE *fp;

	err = rec_path(s, NULL, dir, sizeof(dir));
	if (!err)
		err = rec_path(s, service, path, sizeof(path));
	if (err)
		return err;
	err = mkdirs(dir);
	if (err)
		return sluice_seterr(s, -err, "%s: %s", dir, strerror(-err));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fp = fd < 0 ? NULL : fdopen(fd, "w");
	if (!fp) {
		err = sluice_seterr(s, errno, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	fprintf(fp, "from %016llx to %016llx rollout %llu at %llu\n",
		(unsigned long long)p->from, (unsigned long long)p->to,
		(unsigned long long)p->rollout_id, (unsigned long long)p->at_ms);
	if (fflush(fp) || fsync(fd)) {
		err = sluice_seterr(s, errno, "%s: %s", tmp, strerror(errno));
		fclose(fp);
		unlink(tmp);
		return err;
	}
	fclose(fp);
	if (rename(tmp, path)) {
		err = sluice_seterr(s, errno, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return err;
	}
	return 0;
}

int sluice_promotion_del(struct sluice *s, const char *service)
{
	char path[PATH_MAX];
	int err = rec_path(s, service, path, sizeof(path));

	if (err)
		return err;
	if (unlink(path) && errno != ENOENT)
		return sluice_seterr(s, errno, "%s: %s", path, strerror(errno));
	return 0;
}
