build-clang/obj/src/chan_api.o: src/chan_api.c src/chan.h src/os_guard.h \
  src/atomic.h src/internal.h include/shmq.h src/layout.h

src/chan.h:

src/os_guard.h:

src/atomic.h:

src/internal.h:

include/shmq.h:

src/layout.h:
