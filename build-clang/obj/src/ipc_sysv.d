build-clang/obj/src/ipc_sysv.o: src/ipc_sysv.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
