"""No growth of fds, mappings or memory over 100k rounds of the binding's
calls (every path that allocates, raises or lends memory), with channel
and segment create/close in them: every 50th round by default (a create
costs ~0.2 ms in the library), every round with SHMQ_LONG=1."""
import os

import shmq

ROUNDS = 100_000


def counts():
    fds = len(os.listdir("/proc/self/fd"))
    with open("/proc/self/maps") as f:
        maps = sum(1 for _ in f)
    with open("/proc/self/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return fds, maps, rss


def test_100k_rounds_of_create_send_recv_close_leak_nothing(name):
    every = 1 if os.environ.get("SHMQ_LONG") == "1" else 50
    buf = bytearray(256)
    seg_name = name + "s"

    def round_(i, r, w):
        if i % every == 0:
            w.close()
            r.close()
            r = shmq.Channel(name, "reader", create=True, kind="mpmc",
                             capacity=4, msg_size=256)
            w = shmq.Channel(name, "writer")
            with shmq.Segment(seg_name, 4096, create=True) as s:
                memoryview(s)[:3] = b"abc"
            shmq.unlink(seg_name)
        w.send(b"m" * (i % 200))
        assert len(r.recv()) == i % 200
        w.try_send(b"x")
        assert r.recv_into(buf) == 1
        with w.reserve(16) as v:
            v[:2] = b"ok"
        with r.peek() as v:
            assert v[:2] == b"ok"
        try:
            r.try_recv()
        except BlockingIOError:
            pass
        try:
            r.recv(timeout=0)
        except TimeoutError:
            pass
        try:
            w.send(b"y" * 257)
        except shmq.MessageSizeError:
            pass
        return r, w

    r = shmq.Channel(name, "reader", create=True, kind="mpmc", capacity=4,
                     msg_size=256)
    w = shmq.Channel(name, "writer")
    for i in range(2000):                 # warm up the allocators
        r, w = round_(i, r, w)
    before = counts()
    for i in range(ROUNDS):
        r, w = round_(i, r, w)
    after = counts()
    w.close()
    r.close()
    print("fds, mappings, RSS KiB: before %s after %s" % (before, after))
    assert after[0] == before[0], "fds grew"
    assert after[1] <= before[1] + 2, "mappings grew"
    assert after[2] - before[2] < 2048, "RSS grew by %d KiB" % (after[2] - before[2])
