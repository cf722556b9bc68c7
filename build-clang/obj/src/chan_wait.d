build-clang/obj/src/chan_wait.o: src/chan_wait.c src/chan.h \
  src/os_guard.h src/atomic.h src/internal.h include/shmq.h src/layout.h

src/chan.h:

src/os_guard.h:

src/atomic.h:

src/internal.h:

include/shmq.h:

src/layout.h:
