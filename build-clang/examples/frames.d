build-clang/examples/frames: examples/frames.c include/shmq.h

include/shmq.h:
