/* progress.c: "\r  label  done/total  rate/s  ETA  acc" on stderr. */
#include "progress.h"

#include <stdio.h>

#include "common/util.h"

void progress_start(progress *p, const char *label, size_t total, bool enabled)
{
    p->label = label;
    p->total = total;
    p->done = p->scored = p->correct = 0;
    p->start = time_now_s();
    p->last_draw = 0;
    p->enabled = enabled && total > 0;
}

static void draw(progress *p)
{
    double el = time_now_s() - p->start;
    double rate = el > 0 ? (double)p->done / el : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    fprintf(stderr, "\r  %s  %zu/%zu  %.1f/s  ETA %d:%02d", p->label, p->done, p->total, rate,
            (int)eta / 60, (int)eta % 60);
    if (p->scored) fprintf(stderr, "  acc %.1f%%", 100.0 * (double)p->correct / (double)p->scored);
    fprintf(stderr, "\033[K");
    fflush(stderr);
}

void progress_tick(progress *p, int correct)
{
    p->done++;
    if (correct >= 0) {
        p->scored++;
        p->correct += (size_t)correct;
    }
    if (!p->enabled) return;
    double now = time_now_s();
    if (now - p->last_draw < 0.1 && p->done < p->total) return;
    p->last_draw = now;
    draw(p);
}

void progress_end(progress *p)
{
    if (!p->enabled) return;
    draw(p);
    fputc('\n', stderr);
}
