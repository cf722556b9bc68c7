build-clang/obj/src/ipc_locator.o: src/ipc_locator.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
