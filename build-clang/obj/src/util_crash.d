build-clang/obj/src/util_crash.o: src/util_crash.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
