// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A control-socket reply larger than the per-client backlog bound
 * (SLUICE_CTL_MAX_BACKLOG, 1 MiB): `status` of 4,096 rollouts (the most
 * services an instance holds) reaches a client that reads it, whole and
 * as one line. The rollouts come from the store (written here), so no
 * instance is needed: sluiced without one answers status from its table.
 * sluice-test: host-only
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <jansson.h>
#include "test.h"
#include "sluiced.h"

#define N	SLUICE_MAX_SERVICES

static const char plan_yaml[] =
	"steps:\n"
	"  - weight: 1%\n    hold: 1h\n"
	"gates:\n"
	"  - metric: error_ratio\n    interval: 1s\n    max_increase: 20%\n"
	"    min_samples: 100\n";

/* a long plan name: every rollout's entry carries it, so the reply is
 * well past the bound whatever the rest of an entry holds */
#define PLAN_NAME	"/etc/sluice/plans/a-long-directory-name-for-plans/" \
			"percentage-canary-with-an-error-ratio-gate-and-a-one-" \
			"hour-hold-on-one-percent-before-anything-else.yaml"

static char dir[] = "/tmp/sl-bigreply-XXXXXX";
static pid_t daemon_pid;

static void cleanup(void)
{
	char cmd[64];

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int fill_store(const char *db)
{
	struct eng_state *st = calloc(1, sizeof(*st));
	struct store *s;
	char err[512], name[32];
	int i, e;

	if (!st)
		return -ENOMEM;
	e = store_open(db, &s, err, sizeof(err));
	if (e) {
		fprintf(stderr, "store_open: %s\n", err);
		free(st);
		return e;
	}
	e = store_begin(s);
	for (i = 0; i < N && !e; i++) {
		struct store_rollout row = { .service = name, .plan_name = PLAN_NAME,
					     .plan = plan_yaml };
		char *js;

		snprintf(name, sizeof(name), "svc%04d", i + 1);
		eng_state_init(st, name);
		st->rollout_id = row.rollout_id = i + 1;
		js = eng_state_to_json(st);
		row.state = js;
		e = js ? store_rollout_put(s, &row, 1000) : -ENOMEM;
		free(js);
	}
	if (!e)
		e = store_commit(s);
	store_close(s);
	free(st);
	return e;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 20 };
	int fd, i;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	for (i = 0; i < 200; i++) {	/* the daemon starts: up to 10 s */
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			return fd;
		}
		close(fd);
		usleep(50000);
	}
	return -1;
}

/* One reply line (malloc'd), or NULL when the connection ends first. */
static char *read_line(int fd, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	while (buf) {
		if (n == cap) {
			char *b = realloc(buf, cap * 2);

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		r = recv(fd, buf + n, cap - n, 0);
		if (r <= 0)
			break;
		n += r;
		if (buf[n - 1] == '\n') {
			*len = n;
			return buf;
		}
	}
	*len = n;
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	char db[128], sock[128], bin[PATH_MAX], *slash, *line;
	static const char req[] = "{\"v\":1,\"cmd\":\"status\"}\n";
	json_t *j;
	size_t len = 0;
	int fd;

	(void)argc;
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	snprintf(db, sizeof(db), "%s/state.db", dir);
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	/* build/tests/test_ctl_big_reply -> build/sluiced */
	snprintf(bin, sizeof(bin), "%s", argv[0]);
	slash = strrchr(bin, '/');
	snprintf(slash ? slash + 1 : bin, sizeof(bin) - (slash ? slash + 1 - bin : 0),
		 "../sluiced");
	if (access(bin, X_OK))
		t_skip("build/sluiced is missing: run make");

	subtest("status of 4,096 rollouts in one reply");
	if (!ASSERT_OK(fill_store(db), "4,096 rollouts written to the store"))
		return t_done();
	daemon_pid = fork();
	if (daemon_pid == 0) {
		int nul = open("/dev/null", O_WRONLY);

		dup2(nul, 2);
		execl(bin, bin, "--db", db, "--socket", sock, "--pin-dir",
		      "/sys/fs/bpf/sluice-bigreply-none", "--metrics", "off", (char *)NULL);
		_exit(127);
	}
	fd = connect_to(sock);
	if (!ASSERT_TRUE(fd >= 0, "sluiced's socket accepts"))
		return t_done();
	ASSERT_EQ(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), sizeof(req) - 1,
		  "status sent");
	line = read_line(fd, &len);
	fprintf(stderr, "    reply: %zu bytes\n", len);
	ASSERT_TRUE(len > SLUICE_CTL_MAX_BACKLOG, "the reply is larger than the backlog bound");
	ASSERT_TRUE(line != NULL, "the reply arrived whole (ends with its newline)");
	j = line ? json_loadb(line, len, 0, NULL) : NULL;
	ASSERT_TRUE(j != NULL, "the reply is one JSON document");
	ASSERT_EQ(json_integer_value(json_object_get(j, "code")), 0, "code 0");
	ASSERT_EQ(json_array_size(json_object_get(j, "rollouts")), N,
		  "every rollout is in it");
	json_decref(j);
	free(line);
	/* the connection is still served */
	ASSERT_EQ(send(fd, "{\"v\":1,\"cmd\":\"ping\"}\n", 21, MSG_NOSIGNAL), 21, "ping sent");
	line = read_line(fd, &len);
	ASSERT_TRUE(line && strstr(line, "\"code\":0"), "ping on the same connection answered");
	free(line);
	close(fd);
	return t_done();
}
