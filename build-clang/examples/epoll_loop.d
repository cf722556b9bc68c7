build-clang/examples/epoll_loop: examples/epoll_loop.c include/shmq.h

include/shmq.h:
