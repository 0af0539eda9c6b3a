/* metric.c: proportions, means and their intervals. */
#include "metric.h"

#include <math.h>

#define Z95 1.959963984540054

metric_value metric_proportion(size_t k, size_t n)
{
    metric_value m = {0, n, 0, 0, 0};
    if (n == 0) return m;
    double p = (double)k / (double)n;
    m.value = p;
    /* lm-eval: sample standard deviation (n - 1) over sqrt(n) */
    m.stderr_ = n > 1 ? sqrt(p * (1 - p) * (double)n / (double)(n - 1)) / sqrt((double)n) : 0;
    /* Wilson score interval */
    double z2 = Z95 * Z95, nn = (double)n;
    double denom = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = Z95 * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
    /* exactly 0 and 1 at the ends (the formula leaves rounding dust there) */
    m.lo = k == 0 ? 0 : fmax(0, centre - half);
    m.hi = k == n ? 1 : fmin(1, centre + half);
    return m;
}

metric_value metric_mean(const double *x, size_t n)
{
    metric_value m = {0, n, 0, 0, 0};
    if (n == 0) return m;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    double mean = s / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    m.value = mean;
    m.stderr_ = n > 1 ? sqrt(ss / (double)(n - 1)) / sqrt((double)n) : 0;
    m.lo = fmax(0, mean - Z95 * m.stderr_);
    m.hi = fmin(1, mean + Z95 * m.stderr_);
    return m;
}

metric_value metric_combine(const metric_value *v, const double *w, size_t count)
{
    metric_value m = {0, 0, 0, 0, 0};
    double wsum = 0, val = 0, var = 0;
    for (size_t i = 0; i < count; i++) wsum += w[i];
    if (wsum <= 0) return m;
    for (size_t i = 0; i < count; i++) {
        double f = w[i] / wsum;
        val += f * v[i].value;
        var += f * f * v[i].stderr_ * v[i].stderr_;
        m.n += v[i].n;
    }
    m.value = val;
    m.stderr_ = sqrt(var);
    m.lo = fmax(0, val - Z95 * m.stderr_);
    m.hi = fmin(1, val + Z95 * m.stderr_);
    return m;
}

int metric_put(cJSON *metrics, const char *name, metric_value v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON *ci = cJSON_CreateArray();
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(v.lo));
    cJSON_AddItemToArray(ci, cJSON_CreateNumber(v.hi));
    cJSON_AddNumberToObject(o, "value", v.value);
    cJSON_AddNumberToObject(o, "n", (double)v.n);
    cJSON_AddNumberToObject(o, "stderr", v.stderr_);
    cJSON_AddItemToObject(o, "ci95", ci);
    cJSON_DeleteItemFromObjectCaseSensitive(metrics, name);
    cJSON_AddItemToObject(metrics, name, o);
    return 0;
}

int metric_get(const cJSON *metrics, const char *name, metric_value *out)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(metrics, name);
    if (!cJSON_IsObject(o)) return -3;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "n");
    const cJSON *se = cJSON_GetObjectItemCaseSensitive(o, "stderr");
    const cJSON *ci = cJSON_GetObjectItemCaseSensitive(o, "ci95");
    if (!cJSON_IsNumber(v) || !cJSON_IsNumber(n)) return -3;
    out->value = v->valuedouble;
    out->n = (size_t)n->valuedouble;
    out->stderr_ = cJSON_IsNumber(se) ? se->valuedouble : 0;
    out->lo = out->hi = out->value;
    if (cJSON_IsArray(ci) && cJSON_GetArraySize(ci) == 2) {
        out->lo = cJSON_GetArrayItem(ci, 0)->valuedouble;
        out->hi = cJSON_GetArrayItem(ci, 1)->valuedouble;
    }
    return 0;
}
