/* progress.h: the one-line progress display of a run, on a TTY only.
 *   progress p; progress_start(&p, "gsm8k_cot", total, enabled);
 *   progress_tick(&p, correct_or_minus1);   // per finished sample
 *   progress_end(&p);
 * Redraws at most 10 times a second on stderr; prints nothing when disabled
 * (not a TTY, or --quiet). */
#ifndef TALLY_HARNESS_PROGRESS_H
#define TALLY_HARNESS_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct progress {
    const char *label;
    size_t total, done, scored, correct;
    double start, last_draw;
    bool enabled;
} progress;

void progress_start(progress *p, const char *label, size_t total, bool enabled);
/* One more sample; `correct` is 1/0 when it was scored on the fly, -1 when not. */
void progress_tick(progress *p, int correct);
void progress_end(progress *p);

#endif
