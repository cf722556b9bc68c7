build-clang/examples/prodcons: examples/prodcons.c include/shmq.h

include/shmq.h:
