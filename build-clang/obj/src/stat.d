build-clang/obj/src/stat.o: src/stat.c src/internal.h include/shmq.h

src/internal.h:

include/shmq.h:
