build-clang/obj/src/ipc_sysvipc.o: src/ipc_sysvipc.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
