build-clang/obj/cli/board.o: cli/board.c cli/cli.h include/shmq.h

cli/cli.h:

include/shmq.h:
