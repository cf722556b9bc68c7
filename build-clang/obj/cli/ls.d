build-clang/obj/cli/ls.o: cli/ls.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
