build-clang/obj/src/chan_bcast.o: src/chan_bcast.c src/chan.h \
  src/os_guard.h src/atomic.h src/internal.h include/shmq.h src/layout.h

src/chan.h:

src/os_guard.h:

src/atomic.h:

src/internal.h:

include/shmq.h:

src/layout.h:
