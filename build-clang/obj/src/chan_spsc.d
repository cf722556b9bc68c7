build-clang/obj/src/chan_spsc.o: src/chan_spsc.c src/chan.h \
  src/os_guard.h src/atomic.h src/internal.h include/shmq.h src/layout.h

src/chan.h:

src/os_guard.h:

src/atomic.h:

src/internal.h:

include/shmq.h:

src/layout.h:
