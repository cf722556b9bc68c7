build-clang/obj/cli/pass.o: cli/pass.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
