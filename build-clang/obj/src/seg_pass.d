build-clang/obj/src/seg_pass.o: src/seg_pass.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
