build-clang/obj/bench/run.o: bench/run.c bench/bench.h \
  bench/../src/atomic.h include/shmq.h

bench/bench.h:

bench/../src/atomic.h:

include/shmq.h:
