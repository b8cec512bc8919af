/*
 * cmd.h - the subcommands of satisfy-retrainer, one file each, dispatched by
 * retrainer.c. Each takes the arguments after its own name (argv[0] is the
 * subcommand) and returns the process exit status: 0 success (for `train`
 * also when the gate rejected the candidate: that is a normal outcome,
 * reported and recorded), 1 error, 2 usage.
 */
#ifndef SATISFY_RETRAINER_CMD_H
#define SATISFY_RETRAINER_CMD_H

int cmd_train(int argc, char **argv);
int cmd_registry(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_keygen(int argc, char **argv);

#endif
