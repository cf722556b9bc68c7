build-clang/obj/src/chan_mpmc.o: src/chan_mpmc.c src/chan.h \
  src/os_guard.h src/atomic.h src/internal.h include/shmq.h src/layout.h

src/chan.h:

src/os_guard.h:

src/atomic.h:

src/internal.h:

include/shmq.h:

src/layout.h:
