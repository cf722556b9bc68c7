build-clang/obj/cli/rm.o: cli/rm.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
