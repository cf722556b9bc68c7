build-clang/obj/src/board.o: src/board.c src/board.h src/os_guard.h \
  src/atomic.h src/internal.h include/shmq.h src/layout.h

src/board.h:

src/os_guard.h:

src/atomic.h:

src/internal.h:

include/shmq.h:

src/layout.h:
