"""Bad input raises the right exception and never crashes the interpreter
(the runner runs this with faulthandler on, so a crash shows its stack)."""
import pytest

import shmq


@pytest.mark.parametrize("args,kw,exc", [
    ((), {}, TypeError),
    ((42,), {}, TypeError),
    (("posix:x", -1), {}, ValueError),
    (("posix:x",), {"create": True}, ValueError),      # no size
    (("posix:x", 10), {"create": True, "mode": -1}, ValueError),
    (("posix:x", 10), {"create": True, "huge": "3M"}, ValueError),
    (("bogus:x", 10), {"create": True}, shmq.LocatorError),
    (("posix:x", 1 << 62), {"create": True}, shmq.Error),
    (("posix:a\0b",), {}, ValueError),
    (("posix:x", "10"), {}, TypeError),
])
def test_segment_bad_arguments(args, kw, exc):
    with pytest.raises(exc):
        shmq.Segment(*args, **kw)


def test_channel_bad_arguments(name):
    for kw, exc in [({"role": "boss"}, ValueError), ({"role": 1}, ValueError),
                    ({"kind": "fifo"}, ValueError), ({"capacity": -1}, ValueError),
                    ({"msg_size": -5}, ValueError), ({"policy": None}, ValueError),
                    ({"spin_ns": -2}, ValueError), ({"mode": 0o10000}, ValueError),
                    ({"nope": 1}, TypeError)]:
        with pytest.raises(exc):
            shmq.Channel(name, create=True, **kw)
    with pytest.raises(TypeError):
        shmq.Channel(b"posix:x")
    with pytest.raises(FileNotFoundError):
        shmq.Channel(name)
    with pytest.raises(shmq.LocatorError):
        shmq.Channel("sysv:nonsense", create=True)


def test_calls_on_wrong_roles_closed_channels_and_bad_values(name):
    r = shmq.Channel(name, "reader", create=True, kind="mpmc", msg_size=64)
    w = shmq.Channel(name, "writer")
    with pytest.raises(OSError):
        r.send(b"x")                       # io.UnsupportedOperation
    with pytest.raises(OSError):
        w.recv()
    for call, exc in [(lambda: w.send("text"), TypeError),
                      (lambda: w.send(None), TypeError),
                      (lambda: w.send(b"x", timeout=-1), ValueError),
                      (lambda: w.send(b"x", timeout=float("nan")), ValueError),
                      (lambda: w.send(b"x", timeout="1"), TypeError),
                      (lambda: w.reserve(-1), ValueError),
                      (lambda: w.reserve("1"), TypeError),
                      (lambda: w.reserve(1 << 70), OverflowError),
                      (lambda: w.reserve(65), shmq.MessageSizeError),
                      (lambda: r.recv_into(b"readonly"), TypeError),
                      (lambda: r.recv_into(None), TypeError),
                      (lambda: r.peek(timeout=-0.1), ValueError)]:
        with pytest.raises(exc):
            call()
    with w.reserve(4) as v:
        with pytest.raises(TypeError):
            del v[0]
        with pytest.raises(ValueError):
            v[:] = b"too long"
        with pytest.raises(TypeError):
            v.release()                    # a reserve commits
        with pytest.raises(ValueError):
            v.commit(5)
        v[:] = b"abcd"
    with r.peek() as m:
        with pytest.raises(TypeError):
            m.commit()
        with pytest.raises(IndexError):
            m[10]
    w.close()
    r.close()
    r.close()                              # twice: a no-op
    for call in (r.recv, r.try_recv, r.fileno, r.info, lambda: r.max_msg,
                 lambda: r.recv_into(bytearray(4)), r.peek,
                 lambda: w.send(b"x"), lambda: w.reserve(1), lambda: next(r)):
        with pytest.raises(ValueError):
            call()
    assert r.closed and "closed" in repr(r)


def test_sync_objects_bad_placement_and_garbage(name):
    seg = shmq.Segment(name, 64, create=True)
    for off in (-8, 3, 56, 64, 1 << 40):
        with pytest.raises(ValueError):
            shmq.Mutex(seg, off)
    with pytest.raises(TypeError):
        shmq.Mutex(bytearray(64), 0)
    with pytest.raises(ValueError):
        shmq.Semaphore(seg, 0, value=-1)
    memoryview(seg)[:16] = b"\xff" * 16    # not an initialised object
    m, s, e = shmq.Mutex(seg, 0), shmq.Semaphore(seg, 0), shmq.Event(seg, 0)
    for call in (m.lock, m.try_lock, m.unlock, s.post, s.try_wait,
                 lambda: s.wait(timeout=0.01), lambda: e.wait(0, timeout=0.01),
                 e.signal):
        with pytest.raises(shmq.Error):
            call()
    with pytest.raises(ValueError):
        e.wait(1 << 40)
    del m, s, e, call  # call: a bound method holds its object
    seg.close()
    shmq.unlink(name)
    with pytest.raises(ValueError):
        shmq.Mutex(seg, 0)                 # closed segment


def test_module_functions_bad_input():
    for call, exc in [(lambda: shmq.stat(1), TypeError),
                      (lambda: shmq.stat("posix:"), shmq.Error),
                      (lambda: shmq.unlink(None), TypeError),
                      (lambda: shmq.unlink("posix:shmqt-0-none"), FileNotFoundError),
                      (lambda: shmq.ls(True), TypeError),
                      (lambda: shmq.explain("x"), TypeError),
                      (lambda: shmq.explain(2, size=-1), ValueError)]:
        with pytest.raises(exc):
            call()
    assert "no such object" in shmq.explain(2, "posix:x")
    e = shmq.Error(5, "line")
    assert str(e) == "line"
