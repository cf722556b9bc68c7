build-clang/examples/chat: examples/chat.c include/shmq.h

include/shmq.h:
