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
	snprintf(buf, len, "%s/prog_%s_%s", s->pin_dir, ifname, mode_tag[mode]);
}

static int xdp_flags(enum sluice_attach_mode mode)
{
	return mode == SLUICE_ATTACH_XDP_GENERIC ||
	       mode == SLUICE_ATTACH_REPLY_XDP_GENERIC ? XDP_FLAGS_SKB_MODE
						       : XDP_FLAGS_DRV_MODE;
}

int sluice_attach(struct sluice *s, const char *ifname,
		  enum sluice_attach_mode mode)
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
		err = bpf_xdp_attach(ifindex, fd, xdp_flags(mode), NULL);
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
