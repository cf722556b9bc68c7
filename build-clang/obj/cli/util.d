build-clang/obj/cli/util.o: cli/util.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
