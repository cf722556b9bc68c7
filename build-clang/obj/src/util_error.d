build-clang/obj/src/util_error.o: src/util_error.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
