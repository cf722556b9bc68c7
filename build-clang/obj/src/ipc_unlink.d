build-clang/obj/src/ipc_unlink.o: src/ipc_unlink.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
