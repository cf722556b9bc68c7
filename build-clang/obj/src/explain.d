build-clang/obj/src/explain.o: src/explain.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
