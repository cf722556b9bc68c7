build-clang/obj/cli/dump.o: cli/dump.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
