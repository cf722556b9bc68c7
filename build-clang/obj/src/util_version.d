build-clang/obj/src/util_version.o: src/util_version.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
