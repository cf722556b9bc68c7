build-clang/obj/cli/stat.o: cli/stat.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
