build-clang/obj/src/sync_algo.o: src/sync_algo.c src/internal.h \
  include/shmq.h src/layout.h src/atomic.h

src/internal.h:

include/shmq.h:

src/layout.h:

src/atomic.h:
