#!/usr/bin/env python3
"""Run a systemd service unit's commands as systemd would, without systemd.

unit_exec.py UNIT-FILE

Reads [Service]'s Environment= and EnvironmentFile= (in order, a later
assignment winning; "-" before the file: it may be missing) and runs every
ExecStartPre= then ExecStart= command with that environment added to ours,
after systemd's expansion (systemd.service(5) "Command lines"): "${VAR}" is
one word, "$VAR" alone as a word is split at whitespace, an unset variable
is empty; a leading "-" ignores the command's failure. A command that fails
ends the run with its status (as a oneshot unit fails). Type=simple (one
ExecStart=): its command replaces this process, so the caller's $! is the
daemon. For the lab tests (test_reboot_lab.sh): the units run are the ones
`make install` wrote, not copies.
"""
import os
import re
import shlex
import subprocess
import sys


def parse(path):
    sect, kv = None, []
    with open(path) as f:
        lines = f.read().replace("\\\n", " ").splitlines()
    for line in lines:
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            sect = line.strip("[]")
            continue
        if sect == "Service" and "=" in line:
            k, v = line.split("=", 1)
            kv.append((k.strip(), v.strip()))
    return kv


def env_file(path, env):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            env[k.strip()] = v


def expand(cmd, env):
    words = []
    for w in shlex.split(cmd):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
        if m:
            words += env.get(m.group(1), "").split()
            continue
        words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                            lambda m: env.get(m.group(1), ""), w))
    return words


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    kv = parse(sys.argv[1])
    env = {}
    for k, v in kv:
        if k == "Environment":
            for a in shlex.split(v):
                n, _, val = a.partition("=")
                env[n] = val
        elif k == "EnvironmentFile":
            opt = v.startswith("-")
            p = v.lstrip("-")
            if os.path.exists(p):
                env_file(p, env)
            elif not opt:
                sys.exit("unit_exec: EnvironmentFile %s is missing" % p)
    typ = next((v for k, v in kv if k == "Type"), "simple")
    cmds = [v for k, v in kv if k == "ExecStartPre"] + \
           [v for k, v in kv if k == "ExecStart"]
    full = dict(os.environ, **env)
    for i, c in enumerate(cmds):
        ignore = c.startswith("-")
        argv = expand(c.lstrip("-@+!"), env)
        if typ != "oneshot" and i == len(cmds) - 1:
            os.execve(argv[0], argv, full)
        rc = subprocess.call(argv, env=full)
        if rc and not ignore:
            sys.exit(rc)


if __name__ == "__main__":
    main()
