// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The control socket (protocol: include/sluice_ctl.h). A unix stream
 * socket, mode 0600 (0660 with --socket-group); one JSON request per line,
 * one reply line each. Every request is validated completely before
 * anything runs: a malformed one gets an error reply naming what is wrong,
 * never a crash, and changes nothing.
 */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "sluiced.h"

/* Fields a command accepts. */
enum ftype { F_STR, F_BOOL, F_UINT };
struct field {
	const char *name;
	enum ftype type;
	size_t max;		/* F_STR: characters; F_UINT: value */
};

static const struct field f_service = { "service", F_STR, SLUICE_NAME_LEN - 1 };
static const struct field f_who = { "who", F_STR, SLUICE_CTL_MAX_WHO };
static const struct field f_reason = { "reason", F_STR, SLUICE_CTL_MAX_REASON };
static const struct field f_plan = { "plan", F_STR, SLUICE_CTL_MAX_PLAN };
static const struct field f_plan_name = { "plan_name", F_STR, SLUICE_CTL_MAX_NAME };
static const struct field f_full = { "full", F_BOOL, 0 };
static const struct field f_action = { "action", F_STR, 16 };
static const struct field f_limit = { "limit", F_UINT, SLUICE_CTL_HISTORY_MAX };

struct cmd_spec {
	const struct field *fields[8];
	const char *required[2];
};

static const struct cmd_spec specs[SLUICE_CTL_NCMDS] = {
	[SLUICE_CTL_PING] = { { NULL } },
	[SLUICE_CTL_STATUS] = { { &f_service } },
	[SLUICE_CTL_HISTORY] = { { &f_service, &f_limit }, { "service" } },
	[SLUICE_CTL_START] = { { &f_service, &f_plan, &f_plan_name, &f_who, &f_reason },
			       { "service" } },
	[SLUICE_CTL_PAUSE] = { { &f_service, &f_who, &f_reason }, { "service" } },
	[SLUICE_CTL_RESUME] = { { &f_service, &f_who, &f_reason }, { "service" } },
	[SLUICE_CTL_PROMOTE] = { { &f_service, &f_full, &f_who, &f_reason }, { "service" } },
	[SLUICE_CTL_ABORT] = { { &f_service, &f_who, &f_reason }, { "service" } },
	[SLUICE_CTL_RETRY] = { { &f_service, &f_who, &f_reason }, { "service" } },
	[SLUICE_CTL_FREEZE] = { { &f_reason, &f_who }, { "reason" } },
	[SLUICE_CTL_UNFREEZE] = { { &f_who, &f_reason } },
	[SLUICE_CTL_HEALTH] = { { &f_service } },
	[SLUICE_CTL_FLEET] = { { &f_action, &f_service, &f_plan, &f_plan_name, &f_reason, &f_who, &f_full },
			       { "action" } },
};

struct client {
	struct daemon *d;
	int fd;
	uid_t uid;
	pid_t pid;
	char who[SLUICE_CTL_MAX_WHO + 1];	/* from the peer's credentials */
	char *buf;
	size_t len;
	/* replies not yet taken by the socket: out[off..outlen) */
	char *out;
	size_t off, outlen, outcap;
	unsigned int slot;
	__u32 events;		/* registered with epoll */
	__u64 last_ms;
	bool closing;		/* close once out is sent */
	bool gone;		/* close now: fell behind, or the peer left */
	bool in_group;		/* of --socket-group: may steer rollouts */
};

/* the module's state (d->ctl, from ctl_listen) */
struct ctl {
	struct client *clients[SLUICE_CTL_MAX_CLIENTS];
	int listen_fd;
	gid_t sock_gid;		/* --socket-group */
};

static bool name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n >= SLUICE_NAME_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

static int bad(struct ctl_result *res, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(struct ctl_result *res, int code, const char *fmt, ...)
{
	va_list ap;

	res->code = code;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	return -1;
}

static int check_field(const struct field *f, json_t *v, const char *cmd,
		       struct ctl_args *a, struct ctl_result *res)
{
	const char *s;
	size_t n;

	switch (f->type) {
	case F_STR:
		if (!json_is_string(v))
			return bad(res, SLUICE_CTL_E_FIELD, "field '%s' of '%s' must be a string, not %s",
				   f->name, cmd, type_name(v));
		s = json_string_value(v);
		n = json_string_length(v);
		if (n > f->max)
			return bad(res, SLUICE_CTL_E_FIELD, "field '%s' is %zu bytes long; at most %zu",
				   f->name, n, f->max);
		if (!strcmp(f->name, "service") && !name_ok(s))
			return bad(res, SLUICE_CTL_E_FIELD,
				   "field 'service': '%.40s' is not a service name (1-%d letters, digits, '_', '.', '-')",
				   s, SLUICE_NAME_LEN - 1);
		if (!strcmp(f->name, "reason") && !strcmp(cmd, "freeze") && !n)
			return bad(res, SLUICE_CTL_E_FIELD, "field 'reason' of 'freeze' must not be empty");
		if (!strcmp(f->name, "plan") && !n)
			return bad(res, SLUICE_CTL_E_FIELD, "field 'plan' is empty");
		if (strpbrk(s, "\n\r") && strcmp(f->name, "plan"))
			return bad(res, SLUICE_CTL_E_FIELD, "field '%s' must be one line", f->name);
		if (!strcmp(f->name, "service")) a->service = s;
		else if (!strcmp(f->name, "plan")) a->plan = s;
		else if (!strcmp(f->name, "plan_name")) a->plan_name = s;
		else if (!strcmp(f->name, "reason")) a->reason = s;
		else if (!strcmp(f->name, "who")) a->who = s;
		else if (!strcmp(f->name, "action")) a->action = s;
		return 0;
	case F_BOOL:
		if (!json_is_boolean(v))
			return bad(res, SLUICE_CTL_E_FIELD, "field '%s' of '%s' must be true or false, not %s",
				   f->name, cmd, type_name(v));
		a->full = json_is_true(v);
		return 0;
	case F_UINT:
		if (!json_is_integer(v))
			return bad(res, SLUICE_CTL_E_FIELD, "field '%s' of '%s' must be an integer, not %s",
				   f->name, cmd, type_name(v));
		if (json_integer_value(v) < 1 || json_integer_value(v) > (json_int_t)f->max)
			return bad(res, SLUICE_CTL_E_FIELD, "field '%s' is %lld; it must be 1..%zu",
				   f->name, (long long)json_integer_value(v), f->max);
		a->limit = json_integer_value(v);
		return 0;
	}
	return 0;
}

/* Parse and validate one request line; -1 with res filled when bad. */
int ctl_parse_request(const char *line, size_t len, int *cmd, json_t **root,
			 struct ctl_args *a, struct ctl_result *res)
{
	const struct cmd_spec *sp;
	json_error_t je;
	const char *key, *name;
	json_t *v, *c, *val;
	int i, j;

	*root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!*root)
		return bad(res, SLUICE_CTL_E_SYNTAX, "request is not JSON: %s (column %d)",
			   je.text, je.column);
	if (!json_is_object(*root))
		return bad(res, SLUICE_CTL_E_SYNTAX, "request must be a JSON object, not %s",
			   type_name(*root));
	v = json_object_get(*root, "v");
	if (!v)
		return bad(res, SLUICE_CTL_E_VERSION,
			   "request has no 'v' (the protocol version, %d)", SLUICE_CTL_VERSION);
	if (!json_is_integer(v))
		return bad(res, SLUICE_CTL_E_VERSION, "'v' must be an integer, not %s",
			   type_name(v));
	if (json_integer_value(v) != SLUICE_CTL_VERSION)
		return bad(res, SLUICE_CTL_E_VERSION,
			   "protocol version %lld is not spoken here (sluiced speaks %d)",
			   (long long)json_integer_value(v), SLUICE_CTL_VERSION);
	c = json_object_get(*root, "cmd");
	if (!c)
		return bad(res, SLUICE_CTL_E_COMMAND, "request has no 'cmd'");
	if (!json_is_string(c))
		return bad(res, SLUICE_CTL_E_COMMAND, "'cmd' must be a string, not %s",
			   type_name(c));
	name = json_string_value(c);
	for (i = 0; i < SLUICE_CTL_NCMDS; i++)
		if (!strcmp(name, sluice_ctl_cmd_name(i)))
			break;
	if (i == SLUICE_CTL_NCMDS)
		return bad(res, SLUICE_CTL_E_COMMAND,
			   "unknown command '%.40s' (ping, status, history, start, pause, resume, promote, abort, retry, freeze, unfreeze, fleet)",
			   name);
	*cmd = i;
	sp = &specs[i];
	json_object_foreach(*root, key, val) {
		if (!strcmp(key, "v") || !strcmp(key, "cmd"))
			continue;
		for (j = 0; j < 8 && sp->fields[j]; j++)
			if (!strcmp(sp->fields[j]->name, key))
				break;
		if (j == 8 || !sp->fields[j])
			return bad(res, SLUICE_CTL_E_FIELD, "unknown field '%.40s' for '%s'",
				   key, name);
		if (check_field(sp->fields[j], val, name, a, res))
			return -1;
	}
	for (j = 0; j < 2 && sp->required[j]; j++)
		if (!json_object_get(*root, sp->required[j]))
			return bad(res, SLUICE_CTL_E_FIELD, "'%s' needs the field '%s'", name,
				   sp->required[j]);
	if (a->plan_name && !a->plan)
		return bad(res, SLUICE_CTL_E_FIELD, "field 'plan_name' without 'plan'");
	return 0;
}

static size_t pending(const struct client *c)
{
	return c->outlen - c->off;
}

static void client_event(void *arg, int fd, uint32_t events)
{
	struct client *c = arg;

	ctl_readable(c->d, c->slot + 1);
}

/* What epoll should wake the client for: its requests, unless it is
 * being closed; its socket's room while replies wait. */
static void set_events(struct client *c)
{
	__u32 want = (c->closing ? 0 : EPOLLIN) | (pending(c) ? EPOLLOUT : 0);

	if (want != c->events &&
	    sched_fd_set(c->d->sched, c->fd, want, client_event, c) == 0)
		c->events = want;
}

/* Send what waits, without blocking; -1: the client is gone. */
static int flush_out(struct client *c)
{
	while (pending(c)) {
		ssize_t w = send(c->fd, c->out + c->off, pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return -1;
		c->off += w;
		c->last_ms = steady_ms();
	}
	if (!pending(c))
		c->off = c->outlen = 0;
	return 0;
}

/* Queue bytes for the client and send what the socket takes now. A
 * client that lets more than SLUICE_CTL_MAX_BACKLOG bytes of replies wait
 * falls behind: -1, it is closed (never waited for: chrony's and BIRD's
 * servers do not block on one client either). */
static int queue_out(struct client *c, const char *p, size_t n)
{
	if (pending(c) > SLUICE_CTL_MAX_BACKLOG)
		return -1;
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		char *b;

		if (c->off) {	/* what was sent makes room first */
			memmove(c->out, c->out + c->off, pending(c));
			c->outlen -= c->off;
			c->off = 0;
		}
		while (cap < c->outlen + n)
			cap *= 2;
		if (cap > c->outcap) {
			b = realloc(c->out, cap);
			if (!b)
				return -1;
			c->out = b;
			c->outcap = cap;
		}
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	return flush_out(c);
}

static int reply(struct client *c, const struct ctl_result *res)
{
	json_t *o = res->data && res->code == SLUICE_CTL_OK ? json_incref(res->data)
							    : json_object();
	char *line;
	int err;

	json_object_set_new(o, "v", json_integer(SLUICE_CTL_VERSION));
	json_object_set_new(o, "code", json_integer(res->code));
	if (res->code != SLUICE_CTL_OK)
		json_object_set_new(o, "error", json_string(res->error));
	line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!line)
		return -1;
	err = queue_out(c, line, strlen(line));
	if (!err)
		err = queue_out(c, "\n", 1);
	free(line);
	return err;
}

/*
 * Roles (include/sluice_ctl.h): reading for anyone who can connect,
 * steering for root and the socket's group, and what makes sluiced run a
 * command or fetch a URL of the client's choosing only for root: the
 * daemon runs those as root with every capability.
 */
enum role { ROLE_READ, ROLE_CONTROL, ROLE_ROOT };

static enum role needed_role(int cmd, const struct ctl_args *a, char *what, size_t len)
{
	struct sluice_plan *p;
	char err[256];
	bool runs;

	switch (cmd) {
	case SLUICE_CTL_PING:
	case SLUICE_CTL_STATUS:
	case SLUICE_CTL_HISTORY:
	case SLUICE_CTL_HEALTH:
		return ROLE_READ;
	case SLUICE_CTL_FLEET:
		if (!strcmp(a->action, "config")) {
			snprintf(what, len, "a fleet configuration (services, backends, their health-check commands, plans)");
			return ROLE_ROOT;
		}
		break;
	}
	/* start's plan, here or for the fleet; a plan that does not parse
	 * is the command's own error to report */
	if (!a->plan || (cmd != SLUICE_CTL_START && strcmp(a->action ? a->action : "", "start")))
		return ROLE_CONTROL;
	p = sluice_plan_parse_string(a->plan, a->plan_name ? a->plan_name : "plan", err, sizeof(err));
	runs = p && sluice_plan_runs_commands(p, what, len);
	sluice_plan_free(p);
	return runs ? ROLE_ROOT : ROLE_CONTROL;
}

static int check_role(const struct client *c, int cmd, const struct ctl_args *a,
		      const char *group, struct ctl_result *res)
{
	char what[SLUICE_GATE_URL_LEN + 96];
	const char *name = sluice_ctl_cmd_name(cmd);

	if (c->uid == 0)
		return 0;
	switch (needed_role(cmd, a, what, sizeof(what))) {
	case ROLE_READ:
		return 0;
	case ROLE_CONTROL:
		if (c->in_group)
			return 0;
		if (group)
			return bad(res, SLUICE_CTL_E_PERM,
				   "'%s' needs the control role: root, or a member of group '%s' (--socket-group); %s may only read (ping, status, history, health)",
				   name, group, c->who);
		return bad(res, SLUICE_CTL_E_PERM,
			   "'%s' needs root (sluiced has no --socket-group); %s may only read (ping, status, history, health)",
			   name, c->who);
	case ROLE_ROOT:
		return bad(res, SLUICE_CTL_E_PERM,
			   "'%s' needs root: %s, and sluiced acts as root; %s may start plans without commands or URLs of their own, or the --config file's plan (rollout start without -f)",
			   name, what, c->in_group ? "the socket's group" : "root");
	}
	return 0;
}

static void handle_line(struct daemon *d, struct client *c, const char *line,
			size_t len)
{
	struct ctl_result res = { .code = SLUICE_CTL_OK };
	struct ctl_args a = { 0 };
	char who[SLUICE_CTL_MAX_WHO * 2 + 16];
	json_t *root = NULL;
	int cmd = -1;

	if (ctl_parse_request(line, len, &cmd, &root, &a, &res) == 0 &&
	    check_role(c, cmd, &a, d->o.socket_group, &res) == 0) {
		/* who acted: the peer's user; root may name the person it
		 * acts for (sudo's SUDO_USER, sent by the CLI) */
		if (a.who && c->uid == 0 && strcmp(a.who, c->who))
			snprintf(who, sizeof(who), "%s (via %s)", a.who, c->who);
		else
			snprintf(who, sizeof(who), "%s", c->who);
		who[SLUICE_CTL_MAX_WHO] = '\0';
		a.who = who;
		ro_command(d, cmd, &a, &res);
	}
	dlog(d, LOG_DEBUG_, "control: %s from %s: %s%s",
	     cmd >= 0 ? sluice_ctl_cmd_name(cmd) : "?", c->who,
	     sluice_ctl_code_name(res.code), res.code ? res.error : "");
	if (reply(c, &res)) {
		dlog(d, LOG_INFO_, "control: closing the connection of %s (pid %d): %zu bytes of replies unread",
		     c->who, (int)c->pid, pending(c));
		c->gone = true;
	}
	json_decref(res.data);
	json_decref(root);
}

static void client_free(struct client *c)
{
	close(c->fd);
	free(c->buf);
	free(c->out);
	free(c);
}

static void client_close(struct daemon *d, int i)
{
	struct ctl *C = d->ctl;

	sched_fd_del(d->sched, C->clients[i]->fd);
	client_free(C->clients[i]);
	C->clients[i] = NULL;
}

/* Refuse a connection over a limit: the reason as one reply line (the
 * socket's buffer is empty: it fits), then the end. */
static void refuse(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(int fd, const char *fmt, ...)
{
	char msg[256], line[384];
	va_list ap;
	json_t *s;
	char *q;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s = json_string(msg);
	q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	n = snprintf(line, sizeof(line), "{\"v\":%d,\"code\":%d,\"error\":%s}\n",
		     SLUICE_CTL_VERSION, SLUICE_CTL_E_BUSY, q ? q : "\"busy\"");
	free(q);
	json_decref(s);
	if (n > 0 && (size_t)n < sizeof(line))
		send(fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void peer_name(uid_t uid, char *who, size_t len)
{
	struct passwd *pw = uid != (uid_t)-1 ? getpwuid(uid) : NULL;

	if (pw)
		snprintf(who, len, "%s", pw->pw_name);
	else
		snprintf(who, len, "uid %d", (int)uid);
}

/* Is the peer in --socket-group: its group, or one of its supplementary
 * groups (as they were when it connected)? */
static bool peer_in_group(int fd, gid_t gid, gid_t sock_gid)
{
	gid_t some[64], *g = some;
	socklen_t l = sizeof(some);
	bool in = false;
	size_t i;

	if (sock_gid == (gid_t)-1)
		return false;
	if (gid == sock_gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &l) < 0) {
		if (errno != ERANGE || !(g = malloc(l)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &l) < 0)
			l = 0;
	}
	for (i = 0; i < l / sizeof(gid_t); i++)
		in |= g[i] == sock_gid;
	if (g != some)
		free(g);
	return in;
}

int ctl_accept(struct daemon *d)
{
	struct ctl *C = d->ctl;
	struct ucred cr = { .uid = (uid_t)-1 };
	socklen_t crl = sizeof(cr);
	char who[SLUICE_CTL_MAX_WHO + 1];
	unsigned int used = 0, mine = 0;
	struct client *c;
	int fd, i, rc, free_slot = -1;

	fd = accept4(C->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0)
		cr.uid = (uid_t)-1;
	for (i = 0; i < SLUICE_CTL_MAX_CLIENTS; i++) {
		if (!C->clients[i]) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		used++;
		mine += C->clients[i]->uid == cr.uid;
	}
	/* root always finds a slot: the last ones are its own, and no
	 * other user may take more than its share */
	if (cr.uid != 0 && mine >= SLUICE_CTL_MAX_PER_UID) {
		peer_name(cr.uid, who, sizeof(who));
		refuse(fd, "too many control connections of %s: at most %d per user (root: no limit); close one and try again",
		       who, SLUICE_CTL_MAX_PER_UID);
		return 0;
	}
	if (free_slot < 0 ||
	    (cr.uid != 0 && used >= SLUICE_CTL_MAX_CLIENTS - SLUICE_CTL_ROOT_SLOTS)) {
		refuse(fd, "too many control connections (%u of %d, the last %d kept for root); try again",
		       used, SLUICE_CTL_MAX_CLIENTS, SLUICE_CTL_ROOT_SLOTS);
		return 0;
	}
	i = free_slot;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->buf = malloc(SLUICE_CTL_MAX_REQUEST))) {
		free(c);
		close(fd);
		return -ENOMEM;
	}
	c->d = d;
	c->fd = fd;
	c->slot = i;
	c->last_ms = steady_ms();
	c->uid = cr.uid;
	c->pid = cr.pid;
	c->in_group = cr.uid != (uid_t)-1 && peer_in_group(fd, cr.gid, C->sock_gid);
	peer_name(c->uid, c->who, sizeof(c->who));
	rc = sched_fd_set(d->sched, fd, EPOLLIN, client_event, c);
	if (rc) {
		client_free(c);
		return rc;
	}
	c->events = EPOLLIN;
	C->clients[i] = c;
	return 0;
}

/* The client's socket is readable or writable (or both, or hung up). */
void ctl_readable(struct daemon *d, unsigned int slot)
{
	struct ctl *C = d->ctl;
	struct client *c;
	ssize_t r = 1;
	char *nl;

	if (!slot || slot > SLUICE_CTL_MAX_CLIENTS || !C->clients[slot - 1])
		return;
	c = C->clients[slot - 1];
	if (flush_out(c))
		c->gone = true;
	if (!c->closing && !c->gone) {
		r = recv(c->fd, c->buf + c->len, SLUICE_CTL_MAX_REQUEST - c->len, MSG_DONTWAIT);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			c->gone = true;
		else if (r == 0)
			c->closing = true;	/* the replies still go out */
	}
	if (r > 0) {
		c->len += r;
		c->last_ms = steady_ms();
	}
	while (r > 0 && !c->closing && !c->gone && (nl = memchr(c->buf, '\n', c->len))) {
		size_t n = nl - c->buf;

		handle_line(d, c, c->buf, n);
		c->len -= n + 1;
		memmove(c->buf, nl + 1, c->len);
	}
	if (!c->closing && !c->gone && c->len >= SLUICE_CTL_MAX_REQUEST) {
		struct ctl_result res = { .code = SLUICE_CTL_E_TOO_LONG };

		snprintf(res.error, sizeof(res.error),
			 "request line longer than %d bytes; closing the connection",
			 SLUICE_CTL_MAX_REQUEST);
		if (reply(c, &res))
			c->gone = true;
		c->closing = true;
	}
	if (c->gone || (c->closing && !pending(c)))
		client_close(d, slot - 1);
	else
		set_events(c);
}

void ctl_expire(struct daemon *d, __u64 now)
{
	struct ctl *C = d->ctl;
	int i;

	if (!C)
		return;
	for (i = 0; i < SLUICE_CTL_MAX_CLIENTS; i++)
		if (C->clients[i] && now - C->clients[i]->last_ms > SLUICE_CTL_IDLE_MS)
			client_close(d, i);
}

static void on_listen(void *arg, int fd, uint32_t events)
{
	ctl_accept(arg);
}

/* Is a daemon answering on path? */
static bool socket_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return alive;
}

int ctl_listen(struct daemon *d, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->o.socket_path;
	char dir[sizeof(sa.sun_path)], *slash;
	mode_t mode = 0600, old;
	gid_t gid = (gid_t)-1;
	struct ctl *C;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	if (d->o.socket_group) {
		struct group *g = getgrnam(d->o.socket_group);

		if (!g) {
			snprintf(err, errlen, "no group '%s' (--socket-group)", d->o.socket_group);
			return -ENOENT;
		}
		gid = g->gr_gid;
		mode = 0660;
	}
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);	/* /run/sluice; an existing one stays */
	}
	if (socket_alive(&sa)) {
		snprintf(err, errlen, "another sluiced answers on %s; one daemon runs every rollout",
			 path);
		return -EADDRINUSE;
	}
	unlink(path);	/* a stale socket of a daemon that died */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot make a socket: %s", strerror(errno));
		return -errno;
	}
	old = umask(0777 & ~mode);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old);
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -errno;
	}
	umask(old);
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, mode) < 0 ||
	    listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot set up %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -errno;
	}
	C = calloc(1, sizeof(*C));
	rc = C ? sched_fd_set(d->sched, fd, EPOLLIN, on_listen, d) : -ENOMEM;
	if (rc) {
		snprintf(err, errlen, "cannot poll %s: %s", path, strerror(-rc));
		free(C);
		close(fd);
		unlink(path);
		return rc;
	}
	C->listen_fd = fd;
	C->sock_gid = gid;
	d->ctl = C;
	return fd;
}

void ctl_cleanup(struct daemon *d)
{
	struct ctl *C = d->ctl;
	int i;

	if (!C)
		return;
	for (i = 0; i < SLUICE_CTL_MAX_CLIENTS; i++)
		if (C->clients[i]) {
			sched_fd_del(d->sched, C->clients[i]->fd);
			client_free(C->clients[i]);
			C->clients[i] = NULL;
		}
	if (C->listen_fd >= 0) {
		sched_fd_del(d->sched, C->listen_fd);
		close(C->listen_fd);
		unlink(d->o.socket_path);
		C->listen_fd = -1;
	}
	free(C);
	d->ctl = NULL;
}
