/* The mailspec command line: one function per subcommand. */
#ifndef MAILSPEC_CLI_H
#define MAILSPEC_CLI_H

#include <stddef.h>

/* Exit codes shared by every subcommand (docs/architecture.md "Contracts"). */
enum {
    MS_EXIT_OK = 0,    /* everything valid / every MUST passed */
    MS_EXIT_FAIL = 1,  /* something invalid / a test failed */
    MS_EXIT_USAGE = 2, /* usage, I/O or connection error */
    /* certify's failures before the suite (docs/certify.md "Exit status") */
    MS_EXIT_GREETING = 3,   /* no greeting, or not a server of --protocol */
    MS_EXIT_TLS = 4,        /* the TLS handshake or the STARTTLS upgrade failed */
    MS_EXIT_LOGIN = 5,      /* --user/--password were refused */
    MS_EXIT_INCOMPLETE = 6, /* no MUST failure, but too little was tested to say more */
};

int ms_cmd_parse(int argc, char **argv);
int ms_cmd_record(int argc, char **argv);
int ms_cmd_replay(int argc, char **argv);
int ms_cmd_certify(int argc, char **argv);
int ms_cmd_serve(int argc, char **argv);
int ms_cmd_fuzz_server(int argc, char **argv);
int ms_cmd_stress(int argc, char **argv);

/*
 * Read a whole file ("-" or NULL: stdin) into a malloc'd buffer, NUL added
 * after len bytes (not part of the data). Returns 0, or -1 with a message
 * printed to stderr.
 */
int ms_read_file(const char *path, char **out, size_t *len);

#endif
