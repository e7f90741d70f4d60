// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_open() says why it failed in the caller's buffer and prints
 * nothing: the CLI and the daemon report the one line themselves (the CLI
 * used to redirect stderr into a temporary file to read it back).
 */
#include "test.h"

int main(void)
{
	struct sluice_open_opts o = { 0 };
	char pin[128], why[512] = "stale", got[256] = "";
	struct sluice *s;
	int saved, e;
	ssize_t n;
	FILE *f;

	if (geteuid() != 0)
		t_skip("needs root (the pin directory is under /sys/fs/bpf)");
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/sluice-test-openerr-%d", getpid());
	o.pin_dir = pin;

	subtest("a missing pin directory: errno and the reason in the buffer, nothing on stderr");
	f = tmpfile();
	if (!ASSERT_TRUE(f, "tmpfile"))
		return t_done();
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(f), STDERR_FILENO);
	s = sluice_open(&o, why, sizeof(why));
	e = errno;
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	ASSERT_TRUE(s == NULL, "no instance there");
	ASSERT_EQ(e, ENOENT, "errno ENOENT");
	ASSERT_TRUE(strstr(why, pin) && strstr(why, "no sluice instance"), why);
	ASSERT_TRUE(strncmp(why, "Error:", 6), "the buffer holds the reason, not a printed line");
	ASSERT_EQ(n, 0, "nothing printed on stderr");
	if (n)
		fprintf(stderr, "  stderr had: %s\n", got);

	subtest("a NULL buffer is allowed");
	s = sluice_open(&o, NULL, 0);
	ASSERT_TRUE(s == NULL && errno == ENOENT, "fails the same without a buffer");

	subtest("success leaves the buffer empty");
	o.create = true;
	s = sluice_open(&o, why, sizeof(why));
	ASSERT_TRUE(s != NULL, why);
	ASSERT_EQ(why[0], 0, "buffer cleared on success");
	sluice_close(s);
	sluice_destroy(pin);
	return t_done();
}
