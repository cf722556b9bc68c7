"""Shared fixtures of the Python tests. Run by tests/test_python.c (make
test), which sets SHMQ_TEST_PREFIX to a name prefix the runner removes
after the test, SHMQ_TEST_KEY to a System V key base of the test, and
SHMQ_BIN to the tool under test; run alone, pytest works too
(PYTHONPATH=build/python python3 -m pytest python/tests)."""
import itertools
import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PREFIX = os.environ.get("SHMQ_TEST_PREFIX") or "shmqt-%d-py" % os.getpid()
KEY = int(os.environ.get("SHMQ_TEST_KEY") or "0x5e7f0000", 0)
_seq = itertools.count()


def tool():
    """The shmq tool under test."""
    return os.environ.get("SHMQ_BIN") or os.path.join(ROOT, "build", "shmq")


@pytest.fixture
def name():
    """A fresh POSIX locator for the test, one the runner cleans up."""
    return "posix:%s-%d" % (PREFIX, next(_seq))


@pytest.fixture
def sysv_key():
    """A fresh System V key of the test."""
    return KEY + (next(_seq) & 0xFF)


def python_child(code, *args, **kw):
    """Starts `python -c code args...` with the module on its path; stdin
    and stdout are pipes (text, line-buffered) unless given."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    kw.setdefault("stdin", subprocess.PIPE)
    kw.setdefault("stdout", subprocess.PIPE)
    return subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-c", textwrap.dedent(code)]
        + [str(a) for a in args], env=env, text=True, bufsize=1, **kw)


def run_child(code, *args, timeout=20):
    """Runs a child to its end; fails the test with its stderr unless it
    exits 0. Returns its stdout."""
    p = python_child(code, *args, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, "child failed (%d): %s" % (p.returncode, err)
    return out


def mappings_of(path):
    """The [start, end) ranges of this process's mappings of the file at
    path, found by inode: the creator maps the object before it has its
    name (the library links it in once made), so the path in maps differs."""
    ino = os.stat(path).st_ino
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and int(parts[4]) == ino and "/dev/shm/" in parts[5]:
                lo, hi = parts[0].split("-")
                out.append((int(lo, 16), int(hi, 16)))
    return out


def in_mapping(addr, path):
    return any(lo <= addr < hi for lo, hi in mappings_of(path))


def dev_shm(locator):
    return "/dev/shm/" + locator.split(":", 1)[1]
