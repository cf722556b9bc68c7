build-clang/obj/src/sync_semset.o: src/sync_semset.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
