build-clang/obj/src/sync_msgq.o: src/sync_msgq.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
