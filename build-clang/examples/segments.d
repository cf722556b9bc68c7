build-clang/examples/segments: examples/segments.c include/shmq.h

include/shmq.h:
