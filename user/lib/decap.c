// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The backend side of the ipip mode: a TC ingress filter that strips the
 * outer header (bpf/decap.bpf.c). It stands alone: no pinned maps, no
 * instance; the filter holds the program, so it outlives this process.
 */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "decap.skel.h"

#define DECAP_HANDLE 0x51e
#define DECAP_PRIO 1

int sluice_decap_attach(const char *ifname, char *err, size_t errlen)
{
	int ifindex = if_nametoindex(ifname), rc;
	struct decap *skel;

	if (!ifindex) {
		snprintf(err, errlen, "no device '%s'", ifname);
		return -ENODEV;
	}
	skel = decap__open_and_load();
	if (!skel) {
		rc = -errno;
		snprintf(err, errlen, "cannot load the decapsulation program: %s",
			 strerror(-rc));
		return rc;
	}
	{
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, to, .handle = DECAP_HANDLE,
			    .priority = DECAP_PRIO,
			    .prog_fd = bpf_program__fd(skel->progs.sluice_decap),
			    .flags = BPF_TC_F_REPLACE);

		rc = bpf_tc_hook_create(&hook);
		if (rc && rc != -EEXIST) {
			snprintf(err, errlen, "cannot create clsact on %s: %s",
				 ifname, strerror(-rc));
			goto out;
		}
		rc = bpf_tc_attach(&hook, &to);
		if (rc)
			snprintf(err, errlen, "cannot attach to %s: %s", ifname,
				 strerror(-rc));
	}
out:
	decap__destroy(skel);
	return rc;
}

int sluice_decap_detach(const char *ifname, char *err, size_t errlen)
{
	int ifindex = if_nametoindex(ifname), rc;
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = DECAP_HANDLE,
		    .priority = DECAP_PRIO);

	if (!ifindex) {
		snprintf(err, errlen, "no device '%s'", ifname);
		return -ENODEV;
	}
	hook.ifindex = ifindex;
	rc = bpf_tc_detach(&hook, &to);
	if (rc == -ENOENT)
		snprintf(err, errlen, "no decapsulation program on %s", ifname);
	else if (rc)
		snprintf(err, errlen, "cannot detach from %s: %s", ifname,
			 strerror(-rc));
	return rc;
}
