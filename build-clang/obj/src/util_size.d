build-clang/obj/src/util_size.o: src/util_size.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
