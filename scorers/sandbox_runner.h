/* sandbox_runner.h: the trusted Python runner, built into the binary.
 *
 * scorers/sandbox_runner.py is turned into a C array at build time
 * (scripts/embed.py, a meson custom_target), so no install path is needed;
 * sandbox.c hands it to each sandboxed interpreter on a sealed memfd.
 */
#ifndef TALLY_SCORERS_SANDBOX_RUNNER_H
#define TALLY_SCORERS_SANDBOX_RUNNER_H

#include <stddef.h>

extern const unsigned char sandbox_runner_py[]; /* NUL-terminated source text */
extern const size_t sandbox_runner_py_len;      /* its length without the NUL */

#endif
