build-clang/obj/bench/report.o: bench/report.c bench/bench.h \
  bench/../src/atomic.h

bench/bench.h:

bench/../src/atomic.h:
