build-clang/obj/cli/key.o: cli/key.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
