// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Opening an instance: bpffs, pinned maps, loading the object. */
#include <sys/utsname.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "sluice.skel.h"

int sluice_seterr(struct sluice *s, int err, const char *fmt, ...)
{
	va_list ap;

	if (s) {
		va_start(ap, fmt);
		vsnprintf(s->err, sizeof(s->err), fmt, ap);
		va_end(ap);
	}
	return err > 0 ? -err : err;
}

const char *sluice_errmsg(const struct sluice *s)
{
	return s && s->err[0] ? s->err : "unknown error";
}

const char *sluice_pin_dir(const struct sluice *s)
{
	return s->pin_dir;
}

static int g_verbose;

static int print_fn(enum libbpf_print_level level, const char *fmt,
		    va_list args)
{
	if (level == LIBBPF_DEBUG && g_verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && !g_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void sluice_libbpf_verbosity(int verbose)
{
	g_verbose = verbose;
	libbpf_set_print(print_fn);
}

/*
 * `ip netns exec` runs a command in a private mount namespace with its own
 * /sys, where /sys/fs/bpf is no bpffs: a bpffs mounted there would vanish
 * with the command, and its pins with it. Our parent (the shell) is still
 * in the namespace the user meant.
 */
static bool private_mount_ns(void)
{
	char self[64] = "", parent[64] = "", path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", getppid());
	if (readlink("/proc/self/ns/mnt", self, sizeof(self) - 1) < 0 ||
	    readlink(path, parent, sizeof(parent) - 1) < 0)
		return false;
	return strcmp(self, parent) != 0;
}

/* The pin directory must sit on a bpffs; mount one at /sys/fs/bpf if not. */
static int ensure_bpffs(struct sluice *s)
{
	struct statfs st;
	struct stat pst;
	char parent[PATH_MAX], *slash;

	snprintf(parent, sizeof(parent), "%s", s->pin_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (statfs(parent, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		goto mkdir_pin;
	if (private_mount_ns())
		return sluice_seterr(s, EPERM,
			"no bpffs at %s in this private mount namespace (ip netns exec?): "
			"pins made here would vanish; use nsenter --net=/run/netns/NAME", parent);
	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type != BPF_FS_MAGIC &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return sluice_seterr(s, errno, "cannot mount bpffs on /sys/fs/bpf: %s",
				     strerror(errno));
	if (statfs(parent, &st) < 0 && mkdir(parent, 0700) < 0 && errno != EEXIST)
		return sluice_seterr(s, errno, "cannot create %s: %s", parent,
				     strerror(errno));
	if (statfs(parent, &st) < 0 || st.f_type != BPF_FS_MAGIC)
		return sluice_seterr(s, EINVAL, "%s is not on a bpf filesystem",
				     parent);
mkdir_pin:
	if (mkdir(s->pin_dir, 0700) < 0 && errno != EEXIST)
		return sluice_seterr(s, errno, "cannot create %s: %s",
				     s->pin_dir, strerror(errno));
	/* the pins steer traffic: only root may reach them (0700, root) */
	if (stat(s->pin_dir, &pst) == 0 && pst.st_uid != 0)
		return sluice_seterr(s, EPERM, "%s is owned by uid %u, not root: "
				     "refusing to keep sluice's maps there",
				     s->pin_dir, pst.st_uid);
	if (chmod(s->pin_dir, 0700) < 0)
		return sluice_seterr(s, errno, "cannot make %s private (0700): %s",
				     s->pin_dir, strerror(errno));
	return 0;
}

/*
 * The datapath reads CONFIG_HZ (a weak __kconfig extern: jiffies make the
 * UDP idle clock a load instead of a clock read). libbpf refuses to load
 * when it finds no kernel config at all (/boot/config-RELEASE or
 * /proc/config.gz: a container, a VM booted without /boot), weak or not;
 * then say HZ is unknown, and the datapath falls back to
 * bpf_ktime_get_ns().
 */
static const char *kconfig_fallback(void)
{
	struct utsname u;
	char path[PATH_MAX];

	if (access("/proc/config.gz", R_OK) == 0)
		return NULL;
	if (uname(&u) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		if (access(path, R_OK) == 0)
			return NULL;
	}
	return "CONFIG_HZ=0\n";
}

int sluice_load_skel(struct sluice *s, struct sluice_bpf **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = s->pin_dir,
		    .kconfig = kconfig_fallback());
	char tx_pin[PATH_MAX + 16];
	struct sluice_bpf *skel;
	int err, tx_fd;

	sluice_libbpf_verbosity(s->verbose);
	err = sluice_probe(s);	/* before anything is made */
	if (err)
		return err;
	err = ensure_bpffs(s);
	if (err)
		return err;
	err = sluice_layout_check(s);
	if (err == -ENOENT)
		err = sluice_layout_create(s);	/* pinned before anything else */
	else if (!err)
		err = sluice_layout_sizes_match(s);
	if (err)
		return err;
	skel = sluice_bpf__open_opts(&oo);
	if (!skel)
		return sluice_seterr(s, errno, "cannot open the BPF object: %s",
				     strerror(errno));
	bpf_map__set_max_entries(skel->maps.conn_est, s->layout.conn_entries);
	{	/* powers of two, masks for the datapath (sluice_abi.h) */
		__u32 slots = SLUICE_CONN_MIN, door = SLUICE_DOOR_MIN;

		while (slots < SLUICE_CONN_MAX && slots < s->layout.conn_new_entries)
			slots <<= 1;
		while (door < SLUICE_DOOR_MAX && door < 2ull * s->layout.conn_entries)
			door <<= 1;
		bpf_map__set_max_entries(skel->maps.conn_new, slots);
		bpf_map__set_max_entries(skel->maps.conn_door, door);
		skel->rodata->slot_mask = slots - 1;
		skel->rodata->door_mask = door - 1;
	}
	snprintf(tx_pin, sizeof(tx_pin), "%s/tx_ports", s->pin_dir);
	tx_fd = bpf_obj_get(tx_pin);
	if (tx_fd >= 0) {
		err = bpf_map__reuse_fd(skel->maps.tx_ports, tx_fd);
		close(tx_fd);
		if (err)
			goto fail;
	}
	err = sluice_bpf__load(skel);
	if (err)
		goto fail;
	if (tx_fd < 0) {
		err = bpf_map__pin(skel->maps.tx_ports, tx_pin);
		if (err)
			goto fail;
	}
	*out = skel;
	return 0;
fail:
	sluice_bpf__destroy(skel);
	return sluice_seterr(s, err,
		"cannot load the BPF programs (%s); run with -v for the verifier log",
		strerror(-err));
}

static const char *const map_names[] = {
	"svc_index", "svc_cfg", "kill", "svc_meta", "backends", "ring_v4",
	"ring_v6", "ring_meta", "conn_est", "conn_new", "flow_stats",
	"events", "tx_ports", "exposure", "nat_rev", "nexthop", "lat_hist",
	"hs_sweep",
};

static int *map_fd_slot(struct sluice *s, int i)
{
	int *slots[] = {
		&s->svc_index_fd, &s->svc_cfg_fd, &s->kill_fd, &s->svc_meta_fd,
		&s->backends_fd, &s->ring_v4_fd, &s->ring_v6_fd,
		&s->ring_meta_fd, &s->conn_est_fd, &s->conn_new_fd,
		&s->flow_stats_fd, &s->events_fd, &s->tx_ports_fd,
		&s->exposure_fd, &s->nat_rev_fd, &s->nexthop_fd,
		&s->lat_hist_fd, &s->hs_sweep_fd,
	};
	return slots[i];
}

#define N_MAPS (int)(sizeof(map_names) / sizeof(map_names[0]))

int sluice_map_at(struct sluice *s, int i, const char **name)
{
	if (i < 0 || i >= N_MAPS)
		return -ENOENT;
	*name = map_names[i];
	return *map_fd_slot(s, i);
}

static int open_pins(struct sluice *s)
{
	char path[PATH_MAX + 32];
	int i;

	for (i = 0; i < N_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->pin_dir, map_names[i]);
		*map_fd_slot(s, i) = bpf_obj_get(path);
		if (*map_fd_slot(s, i) < 0)
			return -errno;
	}
	return 0;
}

struct sluice *sluice_open(const struct sluice_open_opts *opts, char *errbuf,
			   size_t errlen)
{
	struct sluice_open_opts none = {};
	struct sluice *s;
	size_t be_len;
	int err, i;

	if (!opts)
		opts = &none;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	s = calloc(1, sizeof(*s));
	if (!s) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < N_MAPS; i++)
		*map_fd_slot(s, i) = -1;
	snprintf(s->pin_dir, sizeof(s->pin_dir), "%s",
		 opts->pin_dir ? opts->pin_dir : SLUICE_PIN_DIR_DEFAULT);
	s->verbose = opts->verbose;
	s->conn_entries = opts->conn_entries;
	s->conn_new_entries = opts->conn_new_entries;
	s->nat_entries = opts->nat_entries;
	s->nat_tbl_fd = -1;
	sluice_libbpf_verbosity(s->verbose);
	s->ncpus = libbpf_num_possible_cpus();

	err = sluice_layout_check(s);
	if (!err)
		err = open_pins(s);
	if (err == -ENOENT && opts->create) {
		struct sluice_bpf *skel;

		for (i = 0; i < N_MAPS; i++)
			if (*map_fd_slot(s, i) >= 0)
				close(*map_fd_slot(s, i));
		s->err[0] = '\0';
		err = sluice_load_skel(s, &skel);
		if (!err) {
			sluice_bpf__destroy(skel);	/* the maps stay, pinned */
			err = open_pins(s);
		}
	}
	if (err) {
		if (err == -ENOENT)
			sluice_seterr(s, err, "no sluice instance at %s (attach a device first)",
				      s->pin_dir);
		else if (!s->err[0])
			sluice_seterr(s, err, "cannot open the maps in %s: %s",
				      s->pin_dir, strerror(-err));
		goto fail;
	}
	be_len = (size_t)SLUICE_MAX_BACKENDS * sizeof(struct sluice_backend);
	s->be = mmap(NULL, be_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     s->backends_fd, 0);
	if (s->be == MAP_FAILED) {
		err = -errno;
		s->be = NULL;
		goto fail;
	}
	s->meta = mmap(NULL, (size_t)SLUICE_MAX_SERVICES * sizeof(*s->meta),
		       PROT_READ | PROT_WRITE, MAP_SHARED, s->svc_meta_fd, 0);
	if (s->meta == MAP_FAILED) {
		err = -errno;
		s->meta = NULL;
		goto fail;
	}
	s->exp = mmap(NULL, (size_t)SLUICE_MAX_SERVICES * sizeof(*s->exp),
		      PROT_READ | PROT_WRITE, MAP_SHARED, s->exposure_fd, 0);
	if (s->exp == MAP_FAILED) {
		err = -errno;
		s->exp = NULL;
		goto fail;
	}
	return s;
fail:
	if (!s->err[0])
		sluice_seterr(s, err, "cannot map the maps in %s: %s", s->pin_dir,
			      strerror(-err));
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", s->err);
	sluice_close(s);
	errno = -err;
	return NULL;
}

void sluice_close(struct sluice *s)
{
	int i;

	if (!s)
		return;
	if (s->be)
		munmap(s->be, (size_t)SLUICE_MAX_BACKENDS *
			      sizeof(struct sluice_backend));
	if (s->meta)
		munmap(s->meta, (size_t)SLUICE_MAX_SERVICES * sizeof(*s->meta));
	if (s->exp)
		munmap(s->exp, (size_t)SLUICE_MAX_SERVICES * sizeof(*s->exp));
	if (s->lock_fd > 0)
		close(s->lock_fd);
	for (i = 0; i < N_MAPS; i++)
		if (*map_fd_slot(s, i) >= 0)
			close(*map_fd_slot(s, i));
	if (s->nat_tbl_fd >= 0)
		close(s->nat_tbl_fd);
	if (s->skel)
		sluice_bpf__destroy(s->skel);
	free(s->cfg_cache);
	free(s->cfg_cache_map);
	free(s->pcpu_buf);
	free(s);
}

int sluice_lock(struct sluice *s)
{
	if (s->lock_fd <= 0) {
		s->lock_fd = open(s->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->lock_fd < 0)
			return sluice_seterr(s, errno, "cannot open %s: %s",
					     s->pin_dir, strerror(errno));
	}
	if (flock(s->lock_fd, LOCK_EX) < 0)
		return sluice_seterr(s, errno, "cannot lock %s: %s", s->pin_dir,
				     strerror(errno));
	return 0;
}

void sluice_unlock(struct sluice *s)
{
	if (s->lock_fd > 0)
		flock(s->lock_fd, LOCK_UN);
}

int sluice_destroy(const char *pin_dir)
{
	char path[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;

	d = opendir(pin_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(pin_dir) < 0 ? -errno : 0;
}

int sluice_prog_fd(struct sluice *s, enum sluice_prog which)
{
	int err;

	if (!s->skel) {
		err = sluice_load_skel(s, &s->skel);
		if (err)
			return err;
	}
	switch (which) {
	case SLUICE_PROG_TC:
		return bpf_program__fd(s->skel->progs.sluice_tc);
	case SLUICE_PROG_REPLY_XDP:
		return bpf_program__fd(s->skel->progs.sluice_reply_xdp);
	case SLUICE_PROG_REPLY_TC:
		return bpf_program__fd(s->skel->progs.sluice_reply_tc);
	default:
		return bpf_program__fd(s->skel->progs.sluice_xdp);
	}
}
