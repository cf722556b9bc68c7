build-clang/obj/src/os_pass.o: src/os_pass.c src/internal.h \
  include/shmq.h

src/internal.h:

include/shmq.h:
