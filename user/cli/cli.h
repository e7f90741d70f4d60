/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The sluice command line: shared declarations of its files. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>
#include <jansson.h>
#include <errno.h>
#include "sluice.h"
#include "out.h"

/* Exit codes (documented in doc/sluice.8). */
#define EXIT_OK		0
#define EXIT_ERR	1	/* the command failed; nothing was changed */
#define EXIT_USAGE	2	/* bad command line */

struct cli {
	const char *pin_dir;
	int verbose;
	__u32 conn_entries, conn_new_entries, nat_entries;	/* attach: table sizes */
	const char *prog;
};
extern struct cli cli;

/* A command: name, handler, one-line usage, longer help. */
struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};

/* Unique-prefix match of word in names[]; exact match wins. Returns the
 * index, -1 when nothing matches, -2 when ambiguous. */
int match_word(const char *word, const char *const *names, int n);
/* Same over a command table; prints the error itself (what, e.g. "command"). */
int match_cmd(const char *word, const struct cmd *cmds, int n,
	      const char *what, const char *ctx);
/* Run a subcommand of an object (argv[0] is the subcommand). */
int run_subcmd(const char *object, const struct cmd *cmds, int n, int argc,
	       char **argv);
void print_cmd_usage(const char *object, const struct cmd *cmds, int n);

/* Open the instance. create: make the maps when absent (writing commands). */
struct sluice *cli_open(bool create);
/* Print the lib's reason for the last failure and return EXIT_ERR. */
int lib_fail(struct sluice *s, int err);
/* cmd_rollout.c: plan validation's warnings on stderr */
struct sluice_plan;
void plan_warn(const struct sluice_plan *plan);

int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Small parsers: 0 or -1 after printing a usage error. */
int parse_u32(const char *what, const char *str, unsigned long max, __u32 *v);
int parse_variant(const char *str);	/* baseline|canary|blue|green, -1 */
const char *variant_str(int v);
const char *proto_str(int p);
const char *mode_str(int m);
const char *affinity_str(int a);
/* "5.00%" */
void fmt_bp(unsigned int bp, char *buf, size_t len);
void fmt_mac(const __u8 mac[6], char *buf, size_t len);

/* Objects. */
int do_attach(int argc, char **argv);
int do_detach(int argc, char **argv);
int do_upgrade(int argc, char **argv);
int do_decap(int argc, char **argv);
int do_status(int argc, char **argv);
int do_destroy(int argc, char **argv);
int do_service(int argc, char **argv);
int do_backend(int argc, char **argv);
int do_pool(int argc, char **argv);
int do_ring(int argc, char **argv);
int do_weight(int argc, char **argv);
int do_cutover(int argc, char **argv);
int do_revert(int argc, char **argv);
int do_resume(int argc, char **argv);
int do_stats(int argc, char **argv);
int do_apply(int argc, char **argv);
int do_export(int argc, char **argv);
int do_rollout(int argc, char **argv);
/* cmd_bgp.c: VIP announcements */
int do_bgp(int argc, char **argv);
int do_drain(int argc, char **argv);
int do_undrain(int argc, char **argv);
int cli_drain(bool drain, int argc, char **argv, const char *usage);
int cli_announce(struct sluice *s);
void print_announce(struct sluice *s);
int do_report(int argc, char **argv);
int do_top(int argc, char **argv);

/* sluiced's control socket, shared by rollout and report (cmd_rollout.c):
 * take "--socket PATH" out of argv; one request (NULL service: none) and
 * its successful reply (errors printed, EXIT_ERR). */
int rollout_strip_socket(int *argc, char **argv);
const char *rollout_socket(void);	/* NULL: the default */
json_t *rollout_request(const char *cmd, const char *service);
int rollout_call(json_t *req, json_t **reply);
/* A reply's field, or "" / 0 (jreal: *ok says whether it was a number). */
const char *jstr(const json_t *o, const char *key);
json_int_t jnum(const json_t *o, const char *key);
double jreal(const json_t *o, const char *key, bool *ok);

/* Help texts of objects with subcommands (for `help OBJECT`). */
extern const struct cmd service_cmds[], backend_cmds[], pool_cmds[],
	ring_cmds[], rollout_cmds[];
extern const int n_service_cmds, n_backend_cmds, n_pool_cmds, n_ring_cmds,
	n_rollout_cmds;

/* Service printing shared by show commands and export. */
void print_service(struct sluice *s, const struct sluice_service_spec *sp,
		   bool pools);
/* check: the backend's entry of sluiced's health checks, or NULL */
void print_backend(const struct sluice_service_spec *sp,
		   const struct sluice_backend_spec *b, const json_t *check);

#endif
