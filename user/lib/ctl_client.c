// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The client side of sluiced's control socket: one JSON line each way. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "ctl_client.h"

struct sluice_ctl {
	int fd;
	char *buf;		/* bytes read past the last reply */
	size_t len, cap;
};

const char *sluice_ctl_default_socket(void)
{
	const char *p = getenv(SLUICE_CTL_SOCKET_ENV);

	return p && *p ? p : SLUICE_CTL_SOCKET;
}

struct sluice_ctl *sluice_ctl_connect(const char *path, char *err,
				      size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 30 };
	struct sluice_ctl *c;
	int fd, e;

	if (!path)
		path = sluice_ctl_default_socket();
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path '%s' is too long", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot make a socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, errlen,
				 "sluiced is not running (nothing listens on %s); start it (systemctl start sluiced, or sluiced --socket %s)",
				 path, path);
		else if (e == EACCES || e == EPERM)
			snprintf(err, errlen,
				 "no permission to use %s (root or the socket's group)",
				 path);
		else
			snprintf(err, errlen, "cannot connect to sluiced at %s: %s",
				 path, strerror(e));
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = fd;
	return c;
}

void sluice_ctl_close(struct sluice_ctl *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		p += w;
		n -= w;
	}
	return 0;
}

/* Read until a newline is buffered; returns its offset or -errno. */
static long read_line(struct sluice_ctl *c)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		ssize_t r;

		if (nl)
			return nl - c->buf;
		if (c->len >= SLUICE_CTL_MAX_REPLY)
			return -EMSGSIZE;
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 65536;
			char *b = realloc(c->buf, cap);

			if (!b)
				return -ENOMEM;
			c->buf = b;
			c->cap = cap;
		}
		r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		c->len += r;
	}
}

int sluice_ctl_call(struct sluice_ctl *c, json_t *req, json_t **reply,
		    char *err, size_t errlen)
{
	json_error_t je;
	char *line;
	long nl;
	int e;

	*reply = NULL;
	json_object_set_new(req, "v", json_integer(SLUICE_CTL_VERSION));
	line = json_dumps(req, JSON_COMPACT);
	if (!line) {
		snprintf(err, errlen, "cannot encode the request");
		return -ENOMEM;
	}
	e = send_all(c->fd, line, strlen(line));
	if (!e)
		e = send_all(c->fd, "\n", 1);
	free(line);
	/* a refused connection (too many) carries its reason as a reply
	 * line before the daemon closes it: read that first */
	nl = read_line(c);
	if (e && nl < 0) {
		snprintf(err, errlen, "cannot send to sluiced: %s", strerror(-e));
		return e;
	}
	if (nl < 0) {
		snprintf(err, errlen, "no reply from sluiced: %s",
			 nl == -EAGAIN ? "timed out" : strerror(-nl));
		return nl;
	}
	*reply = json_loadb(c->buf, nl, 0, &je);
	c->len -= nl + 1;
	memmove(c->buf, c->buf + nl + 1, c->len);
	if (!*reply || !json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		snprintf(err, errlen, "sluiced sent a reply that is not JSON: %s",
			 je.text);
		return -EPROTO;
	}
	return 0;
}

int sluice_ctl_code(const json_t *reply)
{
	json_t *c = json_object_get(reply, "code");

	return json_is_integer(c) ? (int)json_integer_value(c) : SLUICE_CTL_E_SYNTAX;
}
