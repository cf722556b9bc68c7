build-clang/examples/reqrep: examples/reqrep.c include/shmq.h

include/shmq.h:
