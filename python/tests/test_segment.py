"""Segments as buffers, numpy with no copy, multiprocessing.shared_memory
both ways, the sync objects across processes, ls/stat against the tool."""
import json
import os
import subprocess
from multiprocessing import resource_tracker, shared_memory

import numpy as np
import pytest

import shmq
from conftest import dev_shm, in_mapping, python_child, run_child, tool


def test_segment_is_a_writable_buffer_shared_by_two_attachments(name):
    with shmq.Segment(name, 8192, create=True) as a, shmq.Segment(name) as b:
        assert (a.size, b.size, len(a)) == (8192, 8192, 8192)
        memoryview(a)[100:105] = b"hello"
        assert bytes(memoryview(b)[100:105]) == b"hello"
        assert a.locator == name and b.fd >= 0 and a.id == -1
    shmq.unlink(name)
    with pytest.raises(FileNotFoundError):
        shmq.Segment(name)


def test_close_refuses_while_a_view_is_alive(name):
    seg = shmq.Segment(name, 4096, create=True)
    arr = np.frombuffer(seg, np.uint8)
    with pytest.raises(BufferError):
        seg.close()
    assert arr[0] == 0  # still mapped: the refused close unmapped nothing
    del arr
    seg.close()
    assert seg.closed
    with pytest.raises(ValueError):
        memoryview(seg)
    shmq.unlink(name)


def test_numpy_array_written_by_one_process_is_seen_by_another_with_no_copy(name):
    seg = shmq.Segment(name, 1 << 20, create=True)
    arr = np.frombuffer(seg, np.float64)
    # the array's data is the mapping of /dev/shm/NAME itself
    assert arr.ctypes.data == seg.address
    assert in_mapping(arr.ctypes.data, dev_shm(name))
    child = python_child("""
        import sys, numpy as np, shmq
        from conftest import dev_shm, in_mapping
        seg = shmq.Segment(sys.argv[1])
        a = np.frombuffer(seg, np.float64)
        assert in_mapping(a.ctypes.data, dev_shm(sys.argv[1]))
        a[:] = np.arange(a.size) * 0.5       # written in place
        print("written", flush=True)
        sys.stdin.readline()                 # the parent has looked
        assert a[7] == -1.0                  # and its write is seen here
        print("seen", flush=True)
        """, name)
    assert child.stdout.readline() == "written\n"
    assert np.array_equal(arr, np.arange(arr.size) * 0.5)
    arr[7] = -1.0
    child.stdin.write("go\n")
    assert child.stdout.readline() == "seen\n"
    assert child.wait(10) == 0
    del arr
    seg.close()
    shmq.unlink(name)


def test_interop_with_multiprocessing_shared_memory_both_ways(name):
    bare = name.split(":", 1)[1]
    # Python's object, opened by shmq
    shm = shared_memory.SharedMemory(name=bare, create=True, size=4096)
    shm.buf[:5] = b"py->q"
    with shmq.Segment(name) as seg:
        assert bytes(memoryview(seg)[:5]) == b"py->q"
        memoryview(seg)[5:10] = b"q->py"
    assert bytes(shm.buf[5:10]) == b"q->py"
    shm.close()
    shm.unlink()
    # shmq's object, opened by Python's module in another process: it
    # must not let its resource tracker unlink what it did not create
    seg = shmq.Segment(name, 4096, create=True)
    memoryview(seg)[:4] = b"shmq"
    run_child("""
        import sys
        from multiprocessing import resource_tracker, shared_memory
        shm = shared_memory.SharedMemory(name=sys.argv[1])
        resource_tracker.unregister(shm._name, "shared_memory")
        assert bytes(shm.buf[:4]) == b"shmq"
        shm.buf[4:8] = b"back"
        shm.close()
        """, bare)
    assert bytes(memoryview(seg)[4:8]) == b"back"
    assert os.path.exists(dev_shm(name))
    seg.close()
    shmq.unlink(name)


def test_mutex_semaphore_event_in_a_segment_work_across_processes(name):
    seg = shmq.Segment(name, 4096, create=True)
    m = shmq.Mutex(seg, 0, init=True)
    sem = shmq.Semaphore(seg, 16, value=0)
    ev = shmq.Event(seg, 32, init=True)
    counter = np.frombuffer(seg, np.int64, count=1, offset=64)
    child = python_child("""
        import sys, numpy as np, shmq
        seg = shmq.Segment(sys.argv[1])
        m, sem, ev = shmq.Mutex(seg, 0), shmq.Semaphore(seg, 16), shmq.Event(seg, 32)
        c = np.frombuffer(seg, np.int64, count=1, offset=64)
        for _ in range(2000):
            with m:
                c[0] += 1
        sem.post()
        seen = ev.seq
        sem.post()
        ev.wait(seen, timeout=10)
        print("woken", flush=True)
        """, name)
    for _ in range(2000):
        with m:
            counter[0] += 1
    sem.wait(timeout=10)
    sem.wait(timeout=10)                 # the child read seq before this
    with m:
        assert counter[0] == 4000        # no increment lost
    ev.signal()
    assert child.stdout.readline() == "woken\n"
    assert child.wait(10) == 0
    with pytest.raises(BlockingIOError):
        sem.try_wait()
    with pytest.raises(TimeoutError):
        sem.wait(timeout=0.01)
    with pytest.raises(BufferError):     # the sync objects hold the mapping
        seg.close()
    del m, sem, ev, counter
    seg.close()
    shmq.unlink(name)


def test_mutex_held_by_a_dead_process_raises_owner_dead_and_recovers(name):
    seg = shmq.Segment(name, 4096, create=True)
    m = shmq.Mutex(seg, 0, init=True)
    run_child("""
        import sys, shmq
        shmq.Mutex(shmq.Segment(sys.argv[1]), 0).lock()
        """, name)                       # exits holding it
    with pytest.raises(shmq.OwnerDeadError):
        m.lock(timeout=5)
    m.consistent()                        # we hold it: repaired
    m.unlock()
    with m:
        pass
    del m
    seg.close()
    shmq.unlink(name)


def diff(got, want):
    """The fields that differ: {field: (ours, the tool's)}. atime is left
    out: each stat reads the object's first bytes (is it a channel?), which
    sets atime, so two stats a second boundary apart differ in it."""
    return {k: (got.get(k), want.get(k)) for k in set(got) | set(want)
            if k != "atime" and got.get(k) != want.get(k)}


def test_ls_and_stat_give_the_fields_of_the_tool_json(name, sysv_key):
    sysv = "sysv:key=0x%08x" % sysv_key
    subprocess.run([tool(), "create", sysv, "--size", "12345", "--mode", "0640"],
                   check=True)
    subprocess.run([tool(), "create", name, "--size", "4096"], check=True)
    try:
        for loc in (sysv, name):
            got = shmq.stat(loc)
            want = json.loads(subprocess.run(
                [tool(), "stat", loc, "--json"], check=True,
                capture_output=True, text=True).stdout)
            assert diff(got, want) == {}
        listed = json.loads(subprocess.run([tool(), "ls", "--json"], check=True,
                                           capture_output=True, text=True).stdout)
        ours = {d["locator"]: d for d in shmq.ls()}
        for d in listed:
            if d["locator"] in (shmq.stat(sysv)["locator"], name):
                assert diff(ours[d["locator"]], d) == {}
        assert ours[shmq.stat(sysv)["locator"]]["mode"] == "0640"
    finally:
        shmq.unlink(sysv)
        shmq.unlink(name)
