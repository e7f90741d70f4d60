// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The layout pin: which version of the map layout an instance's pins have
 * and how its tables were sized. Read before any other pin is touched, so a
 * build with another layout stops before it misreads anything; written
 * (and pinned) first when an instance is created, so a half-made instance
 * still says what it is. The NAT reverse table is made here too, on the
 * first NAT service.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "internal.h"

static void layout_path(const struct sluice *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s/layout", s->pin_dir);
}

static int migrate_err(struct sluice *s, const char *what)
{
	return sluice_seterr(s, EPROTO,
		"the maps pinned at %s %s (this sluice uses layout %u) and cannot be "
		"read safely; nothing was changed. To migrate: with the sluice that "
		"made them, `sluice export > sluice.yaml`, `sluice detach DEV` for "
		"every device and `sluice destroy`; then with this one `sluice attach "
		"DEV` and `sluice apply -f sluice.yaml`", s->pin_dir, what,
		SLUICE_LAYOUT_VERSION);
}

int sluice_layout_check(struct sluice *s)
{
	char path[PATH_MAX + 16], what[96];
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	struct sluice_layout l = {};
	int fd, err;

	layout_path(s, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		if (err != -ENOENT)
			return sluice_seterr(s, err, "cannot open %s: %s", path,
					     strerror(-err));
		snprintf(path, sizeof(path), "%s/svc_index", s->pin_dir);
		if (access(path, F_OK) == 0)
			return migrate_err(s, "have no layout pin (layout 1, "
					      "from before layout versions)");
		return -ENOENT;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_MAP_TYPE_ARRAY ||
	    info.key_size != sizeof(__u32) || info.value_size < 8 ||
	    info.value_size > sizeof(l) * 4) {
		close(fd);
		return migrate_err(s, "have a layout pin this sluice does not know");
	}
	{
		__u8 buf[sizeof(l) * 4] = {};

		if (bpf_map_lookup_elem(fd, &zero, buf)) {
			err = -errno;
			close(fd);
			return sluice_seterr(s, err, "cannot read %s: %s", path,
					     strerror(-err));
		}
		memcpy(&l, buf, info.value_size < sizeof(l) ? info.value_size : sizeof(l));
	}
	close(fd);
	if (l.magic != SLUICE_LAYOUT_MAGIC)
		return migrate_err(s, "have a layout pin without sluice's magic number");
	if (l.version != SLUICE_LAYOUT_VERSION || info.value_size != sizeof(l)) {
		snprintf(what, sizeof(what), "have layout version %u", l.version);
		return migrate_err(s, what);
	}
	s->layout = l;
	return 0;
}

int sluice_layout_create(struct sluice *s)
{
	struct sluice_layout l = {
		.magic = SLUICE_LAYOUT_MAGIC,
		.version = SLUICE_LAYOUT_VERSION,
		.conn_entries = s->conn_entries ? s->conn_entries : SLUICE_CONN_DEFAULT,
		.conn_new_entries = s->conn_new_entries ? s->conn_new_entries
							: SLUICE_CONN_NEW_DEFAULT,
	};
	char path[PATH_MAX + 16];
	__u32 zero = 0;
	int fd, err = 0;

	l.nat_entries = s->nat_entries ? s->nat_entries
				       : l.conn_entries + l.conn_new_entries;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sluice_layout", sizeof(__u32),
			    sizeof(l), 1, NULL);
	if (fd < 0)
		return sluice_seterr(s, errno, "cannot create the layout map: %s",
				     strerror(errno));
	layout_path(s, path, sizeof(path));
	if (bpf_map_update_elem(fd, &zero, &l, BPF_ANY) < 0 ||
	    bpf_map_freeze(fd) < 0 || bpf_obj_pin(fd, path) < 0)
		err = sluice_seterr(s, errno, "cannot pin %s: %s", path,
				    strerror(errno));
	close(fd);
	if (err == -EEXIST)	/* another process made the instance meanwhile */
		return sluice_layout_check(s);
	if (!err)
		s->layout = l;
	return err;
}

const struct sluice_layout *sluice_layout_of(const struct sluice *s)
{
	return &s->layout;
}

/* Sizes asked of an existing instance must be the ones it has. */
int sluice_layout_sizes_match(struct sluice *s)
{
	const struct { const char *opt; __u32 want, have; } c[] = {
		{ "conn", s->conn_entries, s->layout.conn_entries },
		{ "conn-new", s->conn_new_entries, s->layout.conn_new_entries },
		{ "nat", s->nat_entries, s->layout.nat_entries },
	};
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].want && c[i].want != c[i].have)
			return sluice_seterr(s, EEXIST,
				"%s %u: the instance at %s already has %u entries there "
				"(sizes are set when the maps are made; export, destroy "
				"and attach again to change them)", c[i].opt, c[i].want,
				s->pin_dir, c[i].have);
	return 0;
}

int sluice_nat_table(struct sluice *s, bool create)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_COMMON_LRU);
	__u32 zero = 0, id;
	int fd;

	if (s->nat_tbl_fd >= 0)
		return s->nat_tbl_fd;
	if (bpf_map_lookup_elem(s->nat_rev_fd, &zero, &id) == 0) {
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			return sluice_seterr(s, errno, "cannot open the NAT table: %s",
					     strerror(errno));
		s->nat_tbl_fd = fd;
		return fd;
	}
	if (!create)
		return -ENOENT;
	/* the caller holds the instance lock: no other writer races this */
	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "sluice_nat_rev",
			    sizeof(struct sluice_conn_key),
			    sizeof(struct sluice_nat_rev),
			    s->layout.nat_entries, &mo);
	if (fd < 0)
		return sluice_seterr(s, errno,
			"cannot create the NAT table (%u entries): %s",
			s->layout.nat_entries, strerror(errno));
	if (bpf_map_update_elem(s->nat_rev_fd, &zero, &fd, BPF_ANY) < 0) {
		int err = errno;

		close(fd);
		return sluice_seterr(s, err, "cannot install the NAT table: %s",
				     strerror(err));
	}
	s->nat_tbl_fd = fd;
	return fd;
}
