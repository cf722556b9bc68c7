build-clang/obj/cli/mutex.o: cli/mutex.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
