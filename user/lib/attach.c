// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Attaching the programs to devices. Attachments are made through netlink
 * (not bpf_link) so that they outlive the process that made them: the CLI
 * exits, the datapath keeps forwarding. Each attached program is also pinned
 * as prog_<dev>_<mode> so `status` and `detach` can find it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "sluice.skel.h"

#define TC_HANDLE 0x51c
#define TC_PRIO 1
#define TC_HANDLE_REPLY 0x51d	/* its own filter: forward and reply may share a device */
#define TC_PRIO_REPLY 2

static const char *const mode_tag[SLUICE_ATTACH_MODES] = {
	"xdp", "xdpgeneric", "tc", "xdp-reply", "xdpgeneric-reply", "tc-reply",
};

static bool is_tc(enum sluice_attach_mode m)
{
	return m == SLUICE_ATTACH_TC || m == SLUICE_ATTACH_REPLY_TC;
}

static bool is_reply(enum sluice_attach_mode m)
{
	return m >= SLUICE_ATTACH_REPLY_XDP;
}

static enum sluice_prog prog_of(enum sluice_attach_mode m)
{
	if (is_reply(m))
		return is_tc(m) ? SLUICE_PROG_REPLY_TC : SLUICE_PROG_REPLY_XDP;
	return is_tc(m) ? SLUICE_PROG_TC : SLUICE_PROG_XDP;
}

static void prog_pin_path(struct sluice *s, const char *ifname,
			  enum sluice_attach_mode mode, char *buf, size_t len)
{
	/* pin_dir and ifname are bounded well under len; a cut path would
	 * name no pin (the pin or lookup fails) rather than another one */
	if (snprintf(buf, len, "%s/prog_%s_%s", s->pin_dir, ifname, mode_tag[mode]) >= (int)len)
		buf[0] = '\0';
}

static int xdp_flags(enum sluice_attach_mode mode)
{
	return mode == SLUICE_ATTACH_XDP_GENERIC ||
	       mode == SLUICE_ATTACH_REPLY_XDP_GENERIC ? XDP_FLAGS_SKB_MODE
						       : XDP_FLAGS_DRV_MODE;
}

/*
 * Put this build's program for mode on ifname. old_fd >= 0: replace exactly
 * that program (XDP_FLAGS_REPLACE; a program someone else put there is left
 * alone). Either way the swap is one pointer exchange in the kernel: packets
 * see the old program or the new one, none is dropped in between.
 */
static int attach_prog(struct sluice *s, const char *ifname,
		       enum sluice_attach_mode mode, int old_fd)
{
	char pin[PATH_MAX + 64];
	int ifindex, fd, err;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return sluice_seterr(s, ENODEV, "no device '%s'", ifname);
	if (mode >= SLUICE_ATTACH_MODES)
		return sluice_seterr(s, EINVAL, "unknown attach mode");
	fd = sluice_prog_fd(s, prog_of(mode));
	if (fd < 0)
		return fd;
	if (is_tc(mode)) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, to,
			    .handle = is_reply(mode) ? TC_HANDLE_REPLY : TC_HANDLE,
			    .priority = is_reply(mode) ? TC_PRIO_REPLY : TC_PRIO,
			    .prog_fd = fd, .flags = BPF_TC_F_REPLACE);

		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST)
			return sluice_seterr(s, err, "cannot create clsact on %s: %s",
					     ifname, strerror(-err));
		err = bpf_tc_attach(&hook, &to);
		if (err)
			return sluice_seterr(s, err, "cannot attach tc program to %s: %s",
					     ifname, strerror(-err));
	} else {
		LIBBPF_OPTS(bpf_xdp_attach_opts, xo, .old_prog_fd = old_fd);

		err = bpf_xdp_attach(ifindex, fd, xdp_flags(mode) |
				     (old_fd >= 0 ? XDP_FLAGS_REPLACE : 0),
				     old_fd >= 0 ? &xo : NULL);
		if (err == -EEXIST && old_fd >= 0)
			return sluice_seterr(s, err,
				"%s on %s is not the program sluice attached: left alone",
				mode_tag[mode], ifname);
		if (err)
			return sluice_seterr(s, err,
				"cannot attach XDP (%s) to %s: %s%s", mode_tag[mode],
				ifname, strerror(-err),
				mode == SLUICE_ATTACH_XDP || mode == SLUICE_ATTACH_REPLY_XDP
					? " (the driver may lack native XDP: try xdpgeneric or tc)"
					: "");
	}
	prog_pin_path(s, ifname, mode, pin, sizeof(pin));
	unlink(pin);
	if (bpf_obj_pin(fd, pin) < 0)
		return sluice_seterr(s, errno, "cannot pin %s: %s", pin,
				     strerror(errno));
	return 0;
}

int sluice_attach(struct sluice *s, const char *ifname,
		  enum sluice_attach_mode mode)
{
	return attach_prog(s, ifname, mode, -1);
}

int sluice_upgrade(struct sluice *s, struct sluice_upgraded *out, int max)
{
	struct sluice_attachment at[64];
	char pin[PATH_MAX + 64];
	int n, i, k = 0, err = 0, old_fd;

	n = sluice_attachments(s, at, 64);
	if (n < 0)
		return sluice_seterr(s, n, "cannot list the attachments: %s",
				     strerror(-n));
	if (n == 0)
		return sluice_seterr(s, ENOENT, "sluice is attached nowhere: nothing to upgrade");
	/* load (and verify) the new programs before touching any device */
	err = sluice_prog_fd(s, SLUICE_PROG_XDP);
	if (err < 0)
		return err;
	for (i = 0; i < n && k < max; i++) {
		memset(&out[k], 0, sizeof(out[k]));
		out[k].at = at[i];
		if (at[i].ifindex <= 0) {
			out[k++].skipped = true;	/* device gone */
			continue;
		}
		prog_pin_path(s, at[i].ifname, at[i].mode, pin, sizeof(pin));
		old_fd = bpf_obj_get(pin);
		err = attach_prog(s, at[i].ifname, at[i].mode,
				  is_tc(at[i].mode) ? -1 : old_fd);
		if (old_fd >= 0)
			close(old_fd);
		if (err)
			return err;
		old_fd = bpf_obj_get(pin);
		if (old_fd >= 0) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);

			if (!bpf_obj_get_info_by_fd(old_fd, &info, &len))
				out[k].new_prog_id = info.id;
			close(old_fd);
		}
		k++;
	}
	return k;
}

static int detach_one(struct sluice *s, const char *ifname, int ifindex,
		      enum sluice_attach_mode mode)
{
	int err = 0;

	if (is_tc(mode)) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, to,
			    .handle = is_reply(mode) ? TC_HANDLE_REPLY : TC_HANDLE,
			    .priority = is_reply(mode) ? TC_PRIO_REPLY : TC_PRIO);

		err = bpf_tc_detach(&hook, &to);
	} else {
		err = bpf_xdp_detach(ifindex, xdp_flags(mode), NULL);
	}
	if (err && err != -ENOENT)
		return sluice_seterr(s, err, "cannot detach %s from %s: %s",
				     mode_tag[mode], ifname, strerror(-err));
	return 0;
}

int sluice_detach(struct sluice *s, const char *ifname)
{
	char pin[PATH_MAX + 64];
	int ifindex, found = 0, err, m;

	ifindex = if_nametoindex(ifname);
	for (m = SLUICE_ATTACH_XDP; m < SLUICE_ATTACH_MODES; m++) {
		prog_pin_path(s, ifname, m, pin, sizeof(pin));
		if (access(pin, F_OK) < 0)
			continue;
		found = 1;
		if (ifindex) {
			err = detach_one(s, ifname, ifindex, m);
			if (err)
				return err;
		}
		unlink(pin);
	}
	if (!found)
		return sluice_seterr(s, ENOENT, "sluice is not attached to '%s'",
				     ifname);
	return 0;
}

int sluice_attachments(struct sluice *s, struct sluice_attachment *out,
		       int max)
{
	char path[PATH_MAX + 300];
	struct dirent *de;
	int n = 0, m;
	DIR *d;

	d = opendir(s->pin_dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		char *name, *tag;
		int fd;

		if (strncmp(de->d_name, "prog_", 5))
			continue;
		name = de->d_name + 5;
		tag = strrchr(name, '_');
		if (!tag)
			continue;
		for (m = 0; m < SLUICE_ATTACH_MODES; m++)
			if (!strcmp(tag + 1, mode_tag[m]))
				break;
		if (m >= SLUICE_ATTACH_MODES)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].ifname, sizeof(out[n].ifname), "%.*s",
			 (int)(tag - name), name);
		out[n].ifindex = if_nametoindex(out[n].ifname);
		out[n].mode = m;
		snprintf(path, sizeof(path), "%s/%s", s->pin_dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			if (!bpf_obj_get_info_by_fd(fd, &info, &len))
				out[n].prog_id = info.id;
			close(fd);
		}
		n++;
	}
	closedir(d);
	return n;
}
