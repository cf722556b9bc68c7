build-clang/obj/cli/send.o: cli/send.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
