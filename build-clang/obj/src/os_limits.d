build-clang/obj/src/os_limits.o: src/os_limits.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
