build-clang/examples/libuv_loop: examples/libuv_loop.c include/shmq.h

include/shmq.h:
