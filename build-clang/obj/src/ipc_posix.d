build-clang/obj/src/ipc_posix.o: src/ipc_posix.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
