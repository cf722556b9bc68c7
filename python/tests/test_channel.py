"""Channels: delivery, errors as Python's, zero-copy views that cannot
outlive their release, the C tool on the other end, a writer's death,
Ctrl-C."""
import os
import signal
import subprocess
import tempfile
import time

import numpy as np
import pytest

import shmq
from conftest import dev_shm, in_mapping, python_child, tool


@pytest.mark.parametrize("kind", ["spsc", "mpmc", "broadcast"])
def test_messages_arrive_whole_in_order_then_the_stream_ends(name, kind):
    r = shmq.Channel(name, "reader", create=True, kind=kind,
                     capacity=64 if kind != "spsc" else 1 << 14,
                     msg_size=256 if kind != "spsc" else 0)
    w = shmq.Channel(name, "writer")
    assert (r.kind, r.role, w.role) == (kind, "reader", "writer")
    msgs = [bytes([i]) * (i % 200) for i in range(40)]
    for m in msgs[:20]:
        w.send(m)
    got = [r.recv() for _ in range(20)]
    buf = bytearray(256)
    for m in msgs[20:]:
        w.try_send(memoryview(m))
        n = r.recv_into(buf)
        got.append(bytes(buf[:n]))
    assert got == msgs
    w.send(b"last")
    w.close()
    assert list(r) == [b"last"]           # iteration ends at the end of stream
    with pytest.raises(EOFError):
        r.recv()
    r.close()
    assert not os.path.exists(dev_shm(name))  # the last close removed it


def test_plain_fences_reach_the_header_and_messages_flow(name):
    r = shmq.Channel(name, "reader", create=True, plain_fences=True,
                     spin_ns=0)
    with open(dev_shm(name), "rb") as f:
        f.seek(60)                        # the header's flags
        assert int.from_bytes(f.read(4), "little") == 1 << 3
    w = shmq.Channel(name, "writer", spin_ns=0)
    msgs = [bytes([i]) * i for i in range(1, 50)]
    for m in msgs:
        w.send(m)
    w.close()
    assert list(r) == msgs
    r.close()


def test_try_calls_raise_blocking_io_and_timeouts_raise_timeout(name):
    r = shmq.Channel(name, "reader", create=True, kind="mpmc", capacity=2,
                     msg_size=64)
    w = shmq.Channel(name, "writer")
    with pytest.raises(BlockingIOError):
        r.try_recv()
    t = time.monotonic()
    with pytest.raises(TimeoutError) as e:
        r.recv(timeout=0.1)
    assert time.monotonic() - t >= 0.1
    assert isinstance(e.value, shmq.Error) and e.value.name == "ETIMEDOUT"
    w.send(b"1")
    w.send(b"2")
    with pytest.raises(BlockingIOError):
        w.try_send(b"3")                  # full
    with pytest.raises(TimeoutError):
        w.send(b"3", timeout=0.05)
    with pytest.raises(shmq.MessageSizeError):
        w.send(b"x" * 65)
    with pytest.raises(shmq.MessageSizeError) as e:
        r.recv_into(bytearray(0))         # too small: the message stays
    assert "stays queued" in str(e.value)
    assert r.recv() == b"1" and r.try_recv() == b"2"
    w.close()
    r.close()


def test_reserve_commits_on_exit_and_an_exception_abandons(name):
    r = shmq.Channel(name, "reader", create=True, kind="mpmc", msg_size=4096)
    w = shmq.Channel(name, "writer")
    with w.reserve(8) as buf:
        assert not buf.readonly and len(buf) == 8
        buf[:] = b"zerocopy"
    with pytest.raises(KeyError):
        with w.reserve(100) as buf:
            buf[:5] = b"never"
            raise KeyError("abandon")
    with w.reserve(4096) as buf:
        np.frombuffer(buf, np.uint32)[:] = 7  # a temporary: gone at once
        buf.commit(8)                          # publish fewer bytes
    assert r.recv() == b"zerocopy"
    # the abandoned reserve never arrives
    assert r.recv() == b"\x07\x00\x00\x00\x07\x00\x00\x00"
    with pytest.raises(BlockingIOError):
        r.try_recv()
    w.close()
    r.close()


def test_peek_views_cannot_outlive_their_release(name):
    r = shmq.Channel(name, "reader", create=True, kind="spsc", capacity=4096)
    w = shmq.Channel(name, "writer")
    w.send(b"A" * 100)
    w.send(b"B" * 100)
    with r.peek() as m:
        assert m.readonly and len(m) == 100 and m[0] == 65
        assert m[:3] == b"AAA"            # slices are copies (bytes)
        arr = np.frombuffer(m, np.uint8)  # zero copy: points into the ring
        assert in_mapping(arr.ctypes.data, dev_shm(name))
        with pytest.raises(TypeError):
            m[0] = 1                      # read-only
        assert arr.sum() == 65 * 100
        del arr
    for use in (lambda: m[0], lambda: len(m), lambda: memoryview(m),
                lambda: bytes(m), lambda: m.tobytes(),
                lambda: np.frombuffer(m, np.uint8)):
        with pytest.raises(ValueError):
            use()                         # released: never reads the ring
    assert m.released
    # a view still alive at the end: the release is refused, the message
    # stays held (its memory stays valid) until the view goes
    kept = r.peek()
    mv = memoryview(kept)
    with pytest.raises(BufferError):
        kept.release()
    with pytest.raises(shmq.BusyError):
        r.try_recv()                      # the peek is still open
    assert bytes(mv[:2]) == b"BB"
    with pytest.raises(BufferError):
        r.close()
    mv.release()
    kept.release()
    with pytest.raises(ValueError):
        kept[0]
    w.close()
    with pytest.raises(EOFError):
        r.peek()
    r.close()


def test_close_ends_an_open_view_and_it_raises_after(name):
    r = shmq.Channel(name, "reader", create=True, kind="mpmc", msg_size=64)
    w = shmq.Channel(name, "writer")
    w.send(b"x")
    v = r.peek()
    r.close()                              # no export alive: allowed
    with pytest.raises(ValueError):
        v[0]
    w.close()


def test_tool_send_to_python_reader_is_byte_exact(name):
    data = os.urandom(300_000) + b"\n\x00end"
    r = shmq.Channel(name, "reader", create=True, kind="spsc",
                     capacity=1 << 16)
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        p = subprocess.Popen([tool(), "send", name, "--binary"], stdin=f,
                             stderr=subprocess.PIPE)
        got = b"".join(r)                  # until the tool's close
    assert p.wait(20) == 0, p.stderr.read()
    assert got == data
    r.close()


def test_python_writer_to_tool_recv_is_byte_exact(name):
    data = os.urandom(200_000)
    w = shmq.Channel(name, "writer", create=True, kind="mpmc", capacity=8,
                     msg_size=4096)
    out = tempfile.TemporaryFile()
    p = subprocess.Popen([tool(), "recv", name, "--binary"], stdout=out,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not w.info()["readers"]:         # its close would remove it
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.001)
    for i in range(0, len(data), 1000):
        w.send(data[i:i + 1000])
    w.close()
    assert p.wait(20) == 0, p.stderr.read()
    out.seek(0)
    assert out.read() == data


def test_a_writer_killed_mid_stream_gives_broken_pipe_with_its_pid(name):
    r = shmq.Channel(name, "reader", create=True, kind="spsc", capacity=4096)
    child = python_child("""
        import sys, shmq
        w = shmq.Channel(sys.argv[1], "writer")
        for i in range(10):
            w.send(b"msg %d" % i)
        print("sent", flush=True)
        sys.stdin.readline()              # killed here
        """, name)
    assert child.stdout.readline() == "sent\n"
    child.kill()
    child.wait(10)
    assert [r.recv(timeout=5) for _ in range(10)] == \
        [b"msg %d" % i for i in range(10)]  # what it sent is all there
    with pytest.raises(BrokenPipeError) as e:
        r.recv(timeout=5)
    assert isinstance(e.value, shmq.PeerDeadError)
    assert e.value.pid == child.pid and "pid %d" % child.pid in str(e.value)
    r.close()


def test_ctrl_c_interrupts_a_blocking_recv_within_a_slice(name):
    w = shmq.Channel(name, "writer", create=True, kind="spsc", capacity=4096)
    child = python_child("""
        import sys, time, shmq
        r = shmq.Channel(sys.argv[1], "reader")
        print("ready", flush=True)
        try:
            r.recv()                      # nothing comes: blocks
        except KeyboardInterrupt:
            print(time.monotonic(), flush=True)
        """, name)
    assert child.stdout.readline() == "ready\n"
    deadline = time.monotonic() + 10
    while True:                            # until it sleeps in futex(2)
        with open("/proc/%d/syscall" % child.pid) as f:
            if f.read().split()[0] == "202":
                break
        assert time.monotonic() < deadline
        time.sleep(0.001)
    t0 = time.monotonic()
    child.send_signal(signal.SIGINT)
    line = child.stdout.readline()
    assert child.wait(10) == 0 and line, "recv was not interrupted"
    latency = float(line) - t0
    print("KeyboardInterrupt after %.1f ms" % (latency * 1e3))
    assert latency < 0.2, latency        # a slice is 20 ms
    w.close()
