build-clang/obj/bench/kernel.o: bench/kernel.c bench/bench.h \
  bench/../src/atomic.h include/shmq.h

bench/bench.h:

bench/../src/atomic.h:

include/shmq.h:
