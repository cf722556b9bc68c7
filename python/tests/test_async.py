"""asyncio: recv_async/send_async on loop.add_reader(ch.fileno())."""
import asyncio

import pytest

import shmq
from conftest import python_child


def test_asyncio_reader_over_two_channels_and_a_timer(name):
    a = shmq.Channel(name + "a", "reader", create=True, kind="spsc")
    b = shmq.Channel(name + "b", "reader", create=True, kind="mpmc")
    child = python_child("""
        import sys, time, shmq
        wa = shmq.Channel(sys.argv[1], "writer")
        wb = shmq.Channel(sys.argv[2], "writer")
        sys.stdin.readline()              # the loop runs
        for i in range(50):
            (wa if i % 2 else wb).send(b"%d" % i)
            time.sleep(0.002)             # paced: the timer ticks between
        wa.close(); wb.close()
        """, name + "a", name + "b")
    ticks = 0

    async def drain(ch):
        return [m async for m in ch]      # ends at the end of stream

    async def timer():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    async def main():
        t = asyncio.create_task(timer())
        ra, rb = asyncio.create_task(drain(a)), asyncio.create_task(drain(b))
        await asyncio.sleep(0)
        child.stdin.write("go\n")
        got = await asyncio.wait_for(asyncio.gather(ra, rb), 20)
        t.cancel()
        return got

    got_a, got_b = asyncio.run(main())
    assert got_a == [b"%d" % i for i in range(1, 50, 2)]
    assert got_b == [b"%d" % i for i in range(0, 50, 2)]
    assert ticks >= 5                     # the loop was never blocked
    assert child.wait(10) == 0
    async def one():
        return await a.recv_async()
    with pytest.raises(EOFError):
        asyncio.run(one())
    a.close()
    b.close()


def test_send_async_waits_for_room_and_a_cancel_stops_watching(name):
    r = shmq.Channel(name, "reader", create=True, kind="mpmc", capacity=2,
                     msg_size=16)
    w = shmq.Channel(name, "writer")

    async def main():
        await w.send_async(b"1")
        await w.send_async(b"2")
        pending = asyncio.ensure_future(w.send_async(b"3"))  # full: waits
        await asyncio.sleep(0.02)
        assert not pending.done()
        with pytest.raises(RuntimeError):
            w.send_async(b"4")            # one wait per handle
        assert r.recv() == b"1"           # room: the fd wakes the loop
        await asyncio.wait_for(pending, 5)
        waiting = asyncio.ensure_future(w.send_async(b"5"))
        await asyncio.sleep(0.01)
        waiting.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert r.recv() == b"2" and r.recv() == b"3"
        with pytest.raises(BlockingIOError):
            r.try_recv()                  # the cancelled send sent nothing
        await w.send_async(b"6")          # and the handle is free again
        assert await r.recv_async() == b"6"

    asyncio.run(main())
    w.close()
    r.close()
