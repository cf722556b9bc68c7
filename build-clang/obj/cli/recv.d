build-clang/obj/cli/recv.o: cli/recv.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
