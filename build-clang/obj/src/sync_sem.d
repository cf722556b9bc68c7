build-clang/obj/src/sync_sem.o: src/sync_sem.c src/internal.h \
  include/shmq.h src/layout.h src/atomic.h

src/internal.h:

include/shmq.h:

src/layout.h:

src/atomic.h:
