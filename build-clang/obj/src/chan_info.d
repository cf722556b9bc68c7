build-clang/obj/src/chan_info.o: src/chan_info.c src/chan.h \
  src/os_guard.h src/atomic.h src/internal.h include/shmq.h src/layout.h

src/chan.h:

src/os_guard.h:

src/atomic.h:

src/internal.h:

include/shmq.h:

src/layout.h:
