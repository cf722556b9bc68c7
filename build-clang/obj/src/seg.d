build-clang/obj/src/seg.o: src/seg.c src/internal.h include/shmq.h

src/internal.h:

include/shmq.h:
