"""Python processes through shmq against the ways Python does it today
(make bench runs it after the C table; make bench-python alone):

  shmq-send        Channel.send / Channel.recv (bytes): a copy each side
  shmq-zerocopy    reserve + peek with numpy.frombuffer on the view: the
                   writer's one copy into the ring, none on the reader
  mp-queue         multiprocessing.Queue put / get (pickled, a pipe, a thread)
  mp-pipe          multiprocessing.Pipe send_bytes / recv_bytes
  mp-shm-sem       multiprocessing.shared_memory, one slot, two semaphores:
                   the writer copies in, the reader copies out

One writer and one reader process, each pinned to its own CPU, N messages
of 64 B, 4 KiB, 1 MiB; every message carries its sequence number, which
the reader checks. The binding's own cost per message is the 64 B shmq-send
row against the C library's shmq-spsc-blocking row (`shmq bench`), in the
same run.
"""
import argparse
import json
import multiprocessing as mp
import os
import struct
import subprocess
import sys
import tempfile
import time
from multiprocessing import shared_memory

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
import shmq  # noqa: E402

SIZES = [64, 4096, 1 << 20]
COUNT = {64: 200_000, 4096: 50_000, 1 << 20: 500}
SEQ = struct.Struct("<Q")


def pin(cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def payload(size):
    return bytearray(os.urandom(size))


# Each transport: setup(size) -> state (in the parent, before the fork),
# writer(state, size, n), reader(state, size, n), teardown(state).

def shmq_setup(size):
    name = "posix:shmq-pybench-%d" % os.getpid()
    cap = 1 << 16 if size <= 4096 else 4 << 20
    return {"name": name, "cap": cap}


def shmq_open(st, role):
    return shmq.Channel(st["name"], role, create=True, exist_ok=True,
                        kind="spsc", capacity=st["cap"])


def shmq_send_writer(st, size, n, ch):
    p = payload(size)
    send = ch.send
    for i in range(n):
        SEQ.pack_into(p, 0, i)
        send(p)


def shmq_send_reader(st, size, n, ch):
    recv, unpack = ch.recv, SEQ.unpack_from
    for i in range(n):
        m = recv()
        if unpack(m)[0] != i or len(m) != size:
            raise SystemExit("shmq-send: message %d wrong" % i)


def shmq_zc_writer(st, size, n, ch):
    p = payload(size)
    reserve = ch.reserve
    for i in range(n):
        SEQ.pack_into(p, 0, i)
        with reserve(size) as v:
            v[:] = p


def shmq_zc_reader(st, size, n, ch):
    peek, frombuffer, u8 = ch.peek, np.frombuffer, np.uint8
    for i in range(n):
        with peek() as v:
            a = frombuffer(v, u8)          # the ring itself, no copy
            ok = int(a[:8].view(np.uint64)[0]) == i and a.size == size
            del a
        if not ok:
            raise SystemExit("shmq-zerocopy: message %d wrong" % i)


def queue_setup(size):
    return {"q": mp.get_context("fork").Queue(maxsize=64)}


def queue_writer(st, size, n, _):
    p, put = payload(size), st["q"].put
    for i in range(n):
        SEQ.pack_into(p, 0, i)
        put(bytes(p))


def queue_reader(st, size, n, _):
    get = st["q"].get
    for i in range(n):
        if SEQ.unpack_from(get())[0] != i:
            raise SystemExit("mp-queue: message %d wrong" % i)


def pipe_setup(size):
    r, w = mp.get_context("fork").Pipe(duplex=False)
    return {"r": r, "w": w}


def pipe_writer(st, size, n, _):
    p, send = payload(size), st["w"].send_bytes
    for i in range(n):
        SEQ.pack_into(p, 0, i)
        send(p)


def pipe_reader(st, size, n, _):
    recv = st["r"].recv_bytes
    for i in range(n):
        if SEQ.unpack_from(recv())[0] != i:
            raise SystemExit("mp-pipe: message %d wrong" % i)


def shm_setup(size):
    ctx = mp.get_context("fork")
    shm = shared_memory.SharedMemory(create=True, size=size + 8)
    return {"shm": shm, "full": ctx.Semaphore(0), "empty": ctx.Semaphore(1)}


def shm_writer(st, size, n, _):
    p, buf = payload(size), st["shm"].buf
    full, empty = st["full"], st["empty"]
    for i in range(n):
        SEQ.pack_into(p, 0, i)
        empty.acquire()
        buf[:size] = p
        full.release()


def shm_reader(st, size, n, _):
    buf, full, empty = st["shm"].buf, st["full"], st["empty"]
    for i in range(n):
        full.acquire()
        m = bytes(buf[:size])
        empty.release()
        if SEQ.unpack_from(m)[0] != i:
            raise SystemExit("mp-shm-sem: message %d wrong" % i)


def shm_teardown(st):
    st["shm"].close()
    st["shm"].unlink()


ROWS = [
    ("shmq-send", shmq_setup, shmq_send_writer, shmq_send_reader, None, True),
    ("shmq-zerocopy", shmq_setup, shmq_zc_writer, shmq_zc_reader, None, True),
    ("mp-queue", queue_setup, queue_writer, queue_reader, None, False),
    ("mp-pipe", pipe_setup, pipe_writer, pipe_reader, None, False),
    ("mp-shm-sem", shm_setup, shm_writer, shm_reader, shm_teardown, False),
]


def reader_main(row, st, size, n, cpu, ready, done):
    _, _, _, reader, _, is_shmq = row
    pin(cpu)
    ch = shmq_open(st, "reader") if is_shmq else None
    ready.send(1)
    reader(st, size, n, ch)
    done.send(time.perf_counter())
    if ch:
        ch.close()


cpus_all = os.sched_getaffinity(0)


def run_row(row, size, n, cpus):
    name, setup, writer, _, teardown, is_shmq = row
    ctx = mp.get_context("fork")
    st = setup(size)
    ready_r, ready_w = ctx.Pipe(duplex=False)
    done_r, done_w = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=reader_main,
                       args=(row, st, size, n, cpus[1], ready_w, done_w))
    proc.start()
    pin(cpus[0])
    ch = shmq_open(st, "writer") if is_shmq else None
    ready_r.recv()
    t0 = time.perf_counter()
    writer(st, size, n, ch)
    t1 = done_r.recv()
    proc.join()
    if ch:
        ch.close()
    if teardown:
        teardown(st)
    os.sched_setaffinity(0, cpus_all)
    if proc.exitcode != 0:
        raise SystemExit("%s %d B: the reader failed" % (name, size))
    s = t1 - t0
    return {"transport": name, "msg_size": size, "msgs": n,
            "msgs_per_s": n / s, "gbytes_per_s": n * size / s / 1e9}


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def c_row(tool, cpus):
    """The C library's 64 B throughput, shmq-spsc-blocking (the blocking
    calls the binding makes), from `shmq bench` in this run."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        args = [tool, "bench", "--quick", "--only", "shmq-spsc-blocking",
                "--json-out", f.name]
        if cpus[0] is not None:
            args += ["--cpus", "%d,%d" % cpus]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        for r in json.load(f):
            if r["metric"] == "throughput" and r["msg_size"] == 64:
                return r["msgs_per_s"]
    return None


def fmt_rate(r):
    return "%10.0f" % r if r >= 100 else "%10.1f" % r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="also write the table to this file")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="message counts times this (0.1: a quick look)")
    ap.add_argument("--tool", default=os.path.join(ROOT, "build", "shmq"))
    a = ap.parse_args()
    allowed = sorted(os.sched_getaffinity(0))
    cpus = (allowed[0], allowed[1]) if len(allowed) >= 2 else (None, None)
    lines = ["python bench: %s, %d CPUs (writer on %s, reader on %s), Python %s, "
             "shmq %s" % (cpu_model(), os.cpu_count(), cpus[0], cpus[1],
                          sys.version.split()[0], shmq.__version__),
             "%-14s %8s %10s %10s %10s" % ("transport", "size", "msgs/s",
                                          "GB/s", "vs queue")]
    c = c_row(a.tool, cpus) if os.path.exists(a.tool) else None
    res = {}
    for size in SIZES:
        n = max(20, int(COUNT[size] * a.scale))
        for row in ROWS:
            r = run_row(row, size, n, cpus)
            res[(r["transport"], size)] = r
        base = res[("mp-queue", size)]["msgs_per_s"]
        for row in ROWS:
            r = res[(row[0], size)]
            lines.append("%-14s %8s %s %10.3f %9.1fx" % (
                r["transport"], "%d" % size if size < 1024 else
                "%d KiB" % (size >> 10) if size < 1 << 20 else "1 MiB",
                fmt_rate(r["msgs_per_s"]), r["gbytes_per_s"],
                r["msgs_per_s"] / base))
    q64 = res[("mp-queue", 64)]["msgs_per_s"]
    pipe1m = res[("mp-pipe", 1 << 20)]["gbytes_per_s"]
    lines.append("targets: 64 B shmq-send %.1fx mp-queue (>= 10x); 1 MiB "
                 "shmq-zerocopy %.1fx mp-pipe (>= 5x)" % (
                     res[("shmq-send", 64)]["msgs_per_s"] / q64,
                     res[("shmq-zerocopy", 1 << 20)]["gbytes_per_s"] / pipe1m))
    py = res[("shmq-send", 64)]["msgs_per_s"]
    if c:
        lines.append("binding overhead: 64 B shmq-send %.0f msgs/s in "
                         "Python, %.0f in C (shmq-spsc-blocking): %.0f ns "
                     "per message (send + recv, both processes)"
                     % (py, c, (1 / py - 1 / c) * 1e9))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
