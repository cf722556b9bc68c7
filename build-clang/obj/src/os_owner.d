build-clang/obj/src/os_owner.o: src/os_owner.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
