build-clang/obj/src/util_time.o: src/util_time.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
