build-clang/obj/cli/bench.o: cli/bench.c cli/cli.h include/shmq.h \
  cli/../bench/bench.h cli/../bench/../src/atomic.h

cli/cli.h:

include/shmq.h:

cli/../bench/bench.h:

cli/../bench/../src/atomic.h:
