build-clang/obj/src/os_liveness.o: src/os_liveness.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
