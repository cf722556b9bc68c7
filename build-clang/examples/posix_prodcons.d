build-clang/examples/posix_prodcons: examples/posix_prodcons.c \
  include/shmq.h

include/shmq.h:
