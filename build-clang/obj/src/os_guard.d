build-clang/obj/src/os_guard.o: src/os_guard.c src/os_guard.h \
  src/atomic.h

src/os_guard.h:

src/atomic.h:
