// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* attach, upgrade, detach, status, destroy. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include "cli.h"

static const char *const attach_modes[SLUICE_ATTACH_MODES] = {
	"xdp", "xdpgeneric", "tc", "xdp reply", "xdpgeneric reply", "tc reply",
};

int do_attach(int argc, char **argv)
{
	enum sluice_attach_mode mode = SLUICE_ATTACH_XDP;
	bool reply = false;
	struct sluice *s;
	int err, m;

	/* table sizes apply when this attach creates the instance's maps */
	while (argc >= 3) {
		__u32 *dst = !strcmp(argv[argc - 2], "conn") ? &cli.conn_entries :
			     !strcmp(argv[argc - 2], "conn-new") ? &cli.conn_new_entries :
			     !strcmp(argv[argc - 2], "nat") ? &cli.nat_entries : NULL;

		if (!dst)
			break;
		if (parse_u32(argv[argc - 2], argv[argc - 1], SLUICE_CONN_MAX, dst))
			return EXIT_USAGE;
		if (*dst < SLUICE_CONN_MIN)
			return usage_err("%s: %u entries is too small (at least %u)",
					 argv[argc - 2], *dst, SLUICE_CONN_MIN);
		argc -= 2;
	}
	if (argc >= 2 && !strcmp(argv[argc - 1], "reply")) {
		reply = true;
		argc--;
	}
	if (argc < 1 || argc > 2)
		return usage_err("usage: %s attach DEV [xdp|xdpgeneric|tc] [reply] [conn N] [conn-new N] [nat N]",
				 cli.prog);
	if (!if_nametoindex(argv[0])) {
		pr_error("no device '%s'", argv[0]);
		return EXIT_ERR;
	}
	if (argc == 2) {
		m = match_word(argv[1], attach_modes, 3);
		if (m < 0)
			return usage_err("attach mode must be xdp, xdpgeneric or tc, not '%s'",
					 argv[1]);
		mode = m;
	}
	if (reply)
		mode += SLUICE_ATTACH_REPLY_XDP;
	s = cli_open(true);
	if (!s)
		return EXIT_ERR;
	err = sluice_attach(s, argv[0], mode);
	if (err) {
		lib_fail(s, err);
		sluice_close(s);
		return EXIT_ERR;
	}
	pr_str(PR_ANY, "dev", "attached to %s", argv[0]);
	pr_str(PR_ANY, "mode", " (%s)\n", attach_modes[mode]);
	cli_announce(s);
	sluice_close(s);
	return EXIT_OK;
}

int do_upgrade(int argc, char **argv)
{
	struct sluice_upgraded up[64];
	struct sluice *s;
	int n, i;

	if (argc)
		return usage_err("usage: %s upgrade", cli.prog);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	n = sluice_upgrade(s, up, 64);
	if (n < 0) {
		lib_fail(s, n);
		sluice_close(s);
		return EXIT_ERR;
	}
	pr_arr_open("upgraded");
	for (i = 0; i < n; i++) {
		pr_obj_open(NULL);
		pr_str(PR_ANY, "dev", "%s", up[i].at.ifname);
		pr_str(PR_ANY, "mode", " (%s):", attach_modes[up[i].at.mode]);
		pr_bool(PR_JSON, "skipped", "", up[i].skipped);
		if (up[i].skipped)
			pr_text(" device gone, skipped");
		pr_uint(PR_ANY, "old_prog_id", " prog id %llu", up[i].at.prog_id);
		if (!up[i].skipped)
			pr_uint(PR_ANY, "new_prog_id", " -> %llu", up[i].new_prog_id);
		pr_text("\n");
		pr_obj_close();
	}
	pr_arr_close();
	sluice_close(s);
	return EXIT_OK;
}

int do_detach(int argc, char **argv)
{
	struct sluice *s;
	int err;

	if (argc != 1)
		return usage_err("usage: %s detach DEV", cli.prog);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	err = sluice_detach(s, argv[0]);
	if (err) {
		lib_fail(s, err);
		sluice_close(s);
		return EXIT_ERR;
	}
	pr_str(PR_ANY, "detached", "detached from %s\n", argv[0]);
	cli_announce(s);
	sluice_close(s);
	return EXIT_OK;
}

static __u32 map_max(const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", cli.pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

static void fill(const char *key, const char *label, unsigned long long used,
		 unsigned long long max)
{
	pr_obj_open(key);
	pr_uint(PR_ANY, "used", label, used);
	pr_uint(PR_ANY, "max", " %llu", max);
	pr_real(PR_ANY, "percent", " (%.1f%%)\n", max ? 100.0 * used / max : 0);
	pr_obj_close();
}

static const char *map_type_str(__u32 t)
{
	switch (t) {
	case BPF_MAP_TYPE_HASH: return "hash";
	case BPF_MAP_TYPE_ARRAY: return "array";
	case BPF_MAP_TYPE_PERCPU_ARRAY: return "percpu_array";
	case BPF_MAP_TYPE_PERCPU_HASH: return "percpu_hash";
	case BPF_MAP_TYPE_LRU_HASH: return "lru_hash";
	case BPF_MAP_TYPE_LPM_TRIE: return "lpm_trie";
	case BPF_MAP_TYPE_ARRAY_OF_MAPS: return "array_of_maps";
	case BPF_MAP_TYPE_DEVMAP_HASH: return "devmap_hash";
	default: return "other";
	}
}

/* Kernel memory of every map; svc_cfg and nat_rev with their inner maps. */
static void print_memory(struct sluice *s)
{
	struct sluice_map_mem m[32];
	unsigned long long total = 0;
	int n, i;

	n = sluice_map_memory(s, m, 32);
	for (i = 0; i < n; i++)
		total += m[i].bytes;
	pr_uint(PR_ANY, "layout_version", "map layout version %llu\n",
		sluice_layout_of(s)->version);
	pr_obj_open("memory");
	pr_uint(PR_ANY, "total_bytes", "map memory: %llu bytes", total);
	pr_real(PR_TEXT, NULL, " (%.1f MiB)", total / 1048576.0);
	pr_text(" in %d maps\n", n);
	pr_arr_open("maps");
	for (i = 0; i < n; i++) {
		pr_obj_open(NULL);
		pr_str(PR_ANY, "name", "  %-11s", m[i].name);
		pr_bool(PR_JSON, "present", "", m[i].present);
		if (!m[i].present) {
			pr_uint(PR_ANY, "max_entries",
				" not made yet (made with the first NAT service: %llu entries)\n",
				sluice_layout_of(s)->nat_entries);
			pr_obj_close();
			continue;
		}
		pr_str(PR_ANY, "type", " %-13s", map_type_str(m[i].type));
		pr_uint(PR_ANY, "max_entries", " %9llu", m[i].max_entries);
		pr_uint(PR_ANY, "key_size", " x (%llu", m[i].key_size);
		pr_uint(PR_ANY, "value_size", "+%llu B)", m[i].value_size);
		pr_uint(PR_ANY, "bytes", " %12llu bytes", m[i].bytes);
		if (m[i].inner)
			pr_uint(PR_ANY, "inner_maps", " (%llu inner)", m[i].inner);
		pr_text("\n");
		pr_obj_close();
	}
	pr_arr_close();
	pr_obj_close();
}

int do_status(int argc, char **argv)
{
	static __u32 ids[SLUICE_MAX_SERVICES];
	struct sluice_attachment at[64];
	struct sluice_service_spec *sp;
	__u64 est = 0, unc = 0;
	unsigned long long nbe = 0;
	int n, i, nsvc, nrings = 0;
	__u32 kill = 0;
	char name[SLUICE_RING_NAME_LEN + 1];
	struct sluice *s;

	if (argc)
		return usage_err("usage: %s status", cli.prog);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	sp = sluice_spec_new();
	if (!sp) {
		sluice_close(s);
		return lib_fail(NULL, -ENOMEM);
	}
	pr_str(PR_ANY, "pin_dir", "instance %s\n", cli.pin_dir);
	n = sluice_attachments(s, at, 64);
	pr_arr_open("attachments");
	if (n <= 0)
		pr_text("attached: nowhere\n");
	for (i = 0; i < n; i++) {
		pr_obj_open(NULL);
		pr_str(PR_ANY, "dev", "attached: %s", at[i].ifname);
		pr_int(PR_ANY, "ifindex", " (ifindex %lld)", at[i].ifindex);
		pr_str(PR_ANY, "mode", " %s", attach_modes[at[i].mode]);
		pr_uint(PR_ANY, "prog_id", " prog id %llu", at[i].prog_id);
		pr_bool(PR_JSON, "present", "", at[i].ifindex > 0);
		if (at[i].ifindex <= 0)
			pr_text(" (device gone)");
		pr_text("\n");
		pr_obj_close();
	}
	pr_arr_close();

	nsvc = sluice_service_ids(s, ids, SLUICE_MAX_SERVICES);
	for (i = 0; i < nsvc; i++)
		if (!sluice_service_get_id(s, ids[i], sp))
			nbe += sp->pool[0].n + sp->pool[1].n;
	for (i = 1; i < SLUICE_MAX_RINGS; i++)
		nrings += sluice_ring_name(s, i, name, sizeof(name)) == 0;
	sluice_conn_count(s, &est, &unc);
	sluice_kill_get(s, NULL, &kill);

	pr_obj_open("maps");
	fill("services", "services:          %llu /", nsvc, SLUICE_MAX_SERVICES);
	fill("backends", "backends in use:   %llu /", nbe, SLUICE_MAX_BACKENDS);
	fill("rings", "rings:             %llu /", nrings, SLUICE_MAX_RINGS - 1);
	fill("conn_established", "conn established:  %llu /", est,
	     map_max("conn_est"));
	fill("conn_unconfirmed", "conn unconfirmed:  %llu /", unc,
	     map_max("conn_new"));
	pr_obj_close();
	print_memory(s);
	print_announce(s);
	pr_bool(PR_JSON, "revert_all", "", kill & SLUICE_KILL_REVERT);
	pr_bool(PR_JSON, "revert_all_reset", "", kill & SLUICE_KILL_RESET);
	if (kill & SLUICE_KILL_REVERT)
		pr_text("kill switch: ALL services reverted%s\n",
			kill & SLUICE_KILL_RESET ? " (with reset)" : "");
	sluice_spec_free(sp);
	sluice_close(s);
	return EXIT_OK;
}

int do_destroy(int argc, char **argv)
{
	struct sluice_attachment at[8];
	struct sluice *s;
	int n, err;

	if (argc)
		return usage_err("usage: %s destroy", cli.prog);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	n = sluice_attachments(s, at, 8);
	sluice_close(s);
	if (n > 0) {
		pr_error("still attached to %s: detach first", at[0].ifname);
		return EXIT_ERR;
	}
	err = sluice_destroy(cli.pin_dir);
	if (err) {
		pr_error("cannot remove %s: %s", cli.pin_dir, strerror(-err));
		return EXIT_ERR;
	}
	pr_str(PR_ANY, "destroyed", "removed %s\n", cli.pin_dir);
	return EXIT_OK;
}

/* decap attach|detach DEV: the ipip backend side; needs no instance. */
int do_decap(int argc, char **argv)
{
	static const char *const verbs[] = { "attach", "detach" };
	char err[256] = "";
	int rc, verb;

	verb = argc == 2 ? match_word(argv[0], verbs, 2) : -1;
	if (verb < 0)
		return usage_err("usage: %s decap { attach | detach } DEV", cli.prog);
	if (verb == 0)
		rc = sluice_decap_attach(argv[1], err, sizeof(err));
	else
		rc = sluice_decap_detach(argv[1], err, sizeof(err));
	if (rc) {
		pr_error("%s", err);
		return EXIT_ERR;
	}
	pr_str(PR_ANY, "dev", "decap %s", argv[1]);
	pr_str(PR_ANY, "action", " %s\n", verb == 0 ? "attached" : "detached");
	return EXIT_OK;
}
