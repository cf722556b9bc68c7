build-clang/obj/src/sync_mutex.o: src/sync_mutex.c src/internal.h \
  include/shmq.h src/layout.h src/atomic.h

src/internal.h:

include/shmq.h:

src/layout.h:

src/atomic.h:
