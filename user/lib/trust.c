// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Trust and privilege: a configuration or plan file that someone else can
 * write is refused (whoever can edit it could steer traffic), and a missing
 * privilege is named instead of a bare EPERM. Used by the CLI and the daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "sluice.h"

/* A file may be used when only its owner can write it, that owner is root
 * or us, and its directory does not let others swap it (sticky or private). */
int sluice_file_trusted(int fd, const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;
	uid_t me = geteuid();

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) &&
	    !(S_ISCHR(st.st_mode) && isatty(fd))) {
		snprintf(err, errlen, "%s: not a regular file, pipe or terminal", path);
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode))
		return 0;	/* a pipe or a terminal: whoever made it is the user */
	if (st.st_uid != 0 && st.st_uid != me) {
		snprintf(err, errlen, "%s: owned by uid %u, not by root or by us (uid %u): "
			 "refusing a configuration another user controls", path,
			 st.st_uid, me);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: writable by %s (mode %04o): refusing a "
			 "configuration others can change; chmod go-w %s", path,
			 st.st_mode & S_IWOTH ? "everyone" : "its group",
			 st.st_mode & 07777, path);
		return -EPERM;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (stat(dirname(dir), &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "%s: its directory is writable by others (mode "
			 "%04o, not sticky): they could replace it", path,
			 st.st_mode & 07777);
		return -EPERM;
	}
	return 0;
}

static bool have_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

const char *sluice_privilege_hint(void)
{
	static char buf[160];
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	bool bpf, net, sys;

	if (syscall(SYS_capget, &h, d) < 0)
		return "needs root (or CAP_BPF and CAP_NET_ADMIN)";
	bpf = have_cap(d, CAP_BPF);
	net = have_cap(d, CAP_NET_ADMIN);
	sys = have_cap(d, CAP_SYS_ADMIN);
	snprintf(buf, sizeof(buf),
		 "needs root, or CAP_BPF and CAP_NET_ADMIN%s%s%s%s",
		 bpf && net ? " (both present: the pin directory's permissions "
			      "or a security module deny it)" : "; missing:",
		 !bpf && !sys ? " CAP_BPF" : "", !net ? " CAP_NET_ADMIN" : "",
		 geteuid() ? " (not root)" : "");
	return buf;
}
