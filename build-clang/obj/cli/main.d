build-clang/obj/cli/main.o: cli/main.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
