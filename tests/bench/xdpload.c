// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdpload: attach the benchmark's helper XDP programs (native mode) in the
 * current network namespace, then exit. A netlink XDP attachment holds the
 * program (and the program its maps), so nothing needs pinning; the
 * attachment goes away with the interface or namespace.
 *
 *   xdpload drop DEV              sink: XDP_DROP, counted in ethtool -S xdp_drops
 *   xdpload pass DEV              hand frames to the stack (kernel-path cases)
 *   xdpload floor IN OUT DST_MAC  bench_floor on IN: rewrite MACs, devmap to OUT
 *   xdpload detach DEV
 *
 * Prints the attached program's id (for progcost --id).
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_floor.skel.h"
#include "bench_sink.skel.h"

static int verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int ifindex_of(const char *dev)
{
	int ifindex = if_nametoindex(dev);

	if (!ifindex)
		fprintf(stderr, "Error: no interface '%s' in this network namespace\n",
			dev);
	return ifindex;
}

static int attach(int ifindex, int prog_fd, const char *dev)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err;

	err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		fprintf(stderr, "Error: attaching XDP (native) to %s: %s\n", dev,
			strerror(-err));
		return err;
	}
	if (!bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		printf("%u\n", info.id);
	return 0;
}

static int cmd_sink(const char *dev, int pass)
{
	struct bench_sink *skel;
	int ifindex, err;

	ifindex = ifindex_of(dev);
	if (!ifindex)
		return -ENODEV;
	skel = bench_sink__open_and_load();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "Error: loading bench_sink: %s\n", strerror(-err));
		return err;
	}
	err = attach(ifindex, bpf_program__fd(pass ? skel->progs.bench_pass :
					      skel->progs.bench_drop), dev);
	bench_sink__destroy(skel);
	return err;
}

static int parse_mac(const char *s, volatile __u8 *mac)
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6) {
		fprintf(stderr, "Error: bad MAC '%s'\n", s);
		return -EINVAL;
	}
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

static int cmd_floor(const char *in, const char *out, const char *dmac)
{
	struct bench_floor *skel = NULL;
	struct ifreq ifr = {};
	int in_idx, out_idx, fd, err, i;
	__u32 key = 0;

	in_idx = ifindex_of(in);
	out_idx = ifindex_of(out);
	if (!in_idx || !out_idx)
		return -ENODEV;
	skel = bench_floor__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "Error: opening bench_floor: %s\n", strerror(-err));
		return err;
	}
	err = parse_mac(dmac, skel->rodata->dmac);
	if (err)
		goto cleanup;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", out);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		err = -errno;
		fprintf(stderr, "Error: reading the address of %s: %s\n", out,
			strerror(-err));
		if (fd >= 0)
			close(fd);
		goto cleanup;
	}
	close(fd);
	for (i = 0; i < 6; i++)
		skel->rodata->smac[i] = ifr.ifr_hwaddr.sa_data[i];
	err = bench_floor__load(skel);
	if (err) {
		fprintf(stderr, "Error: loading bench_floor: %s\n", strerror(-err));
		goto cleanup;
	}
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.tx_port), &key,
				  &out_idx, BPF_ANY);
	if (err) {
		err = -errno;
		fprintf(stderr, "Error: devmap entry for %s: %s\n", out,
			strerror(-err));
		goto cleanup;
	}
	err = attach(in_idx, bpf_program__fd(skel->progs.bench_floor), in);
cleanup:
	bench_floor__destroy(skel);
	return err;
}

static int usage(void)
{
	fprintf(stderr, "Usage: xdpload [-v] { drop DEV | pass DEV | floor IN OUT DST_MAC | detach DEV }\n");
	return 2;
}

int main(int argc, char **argv)
{
	int err, ifindex;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = 1;
		argv++;
		argc--;
	}
	libbpf_set_print(libbpf_print);
	if (argc == 3 && !strcmp(argv[1], "drop"))
		err = cmd_sink(argv[2], 0);
	else if (argc == 3 && !strcmp(argv[1], "pass"))
		err = cmd_sink(argv[2], 1);
	else if (argc == 5 && !strcmp(argv[1], "floor"))
		err = cmd_floor(argv[2], argv[3], argv[4]);
	else if (argc == 3 && !strcmp(argv[1], "detach")) {
		ifindex = ifindex_of(argv[2]);
		if (!ifindex)
			return 1;
		err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
		if (err)
			fprintf(stderr, "Error: detaching XDP from %s: %s\n",
				argv[2], strerror(-err));
	} else
		return usage();
	return err ? 1 : 0;
}
