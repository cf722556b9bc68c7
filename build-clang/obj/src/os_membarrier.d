build-clang/obj/src/os_membarrier.o: src/os_membarrier.c src/internal.h \
  include/shmq.h src/atomic.h

src/internal.h:

include/shmq.h:

src/atomic.h:
