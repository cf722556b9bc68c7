build-clang/obj/bench/board.o: bench/board.c bench/bench.h \
  bench/../src/atomic.h include/shmq.h

bench/bench.h:

bench/../src/atomic.h:

include/shmq.h:
