build-clang/obj/bench/shmq.o: bench/shmq.c bench/bench.h \
  bench/../src/atomic.h include/shmq.h

bench/bench.h:

bench/../src/atomic.h:

include/shmq.h:
