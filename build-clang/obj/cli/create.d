build-clang/obj/cli/create.o: cli/create.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
