build-clang/obj/src/board_wait.o: src/board_wait.c src/board.h \
  src/os_guard.h src/atomic.h src/internal.h include/shmq.h src/layout.h

src/board.h:

src/os_guard.h:

src/atomic.h:

src/internal.h:

include/shmq.h:

src/layout.h:
