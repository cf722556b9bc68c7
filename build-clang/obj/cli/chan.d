build-clang/obj/cli/chan.o: cli/chan.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
