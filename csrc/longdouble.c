/*
 * Extended-precision addition for INCRBYFLOAT / HINCRBYFLOAT.
 *
 * Redis parses operands with strtold(), adds them as `long double` and prints
 * the sum with 17 digits after the point, then drops trailing zeros. Rust has
 * no `long double`, so the whole operation lives here and only bytes cross
 * the boundary.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RD_MAX_LD_CHARS (5 * 1024)

/* Parse with the same acceptance rules as Redis's string2ld(). */
static int parse_ld(const char *s, size_t len, long double *out) {
    char buf[RD_MAX_LD_CHARS];
    char *end;
    long double v;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || (size_t)(end - buf) != len) return 0;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) return 0;
    if (isnan(v)) return 0;
    *out = v;
    return 1;
}

/* Render like Redis's "human" long double format. Returns the length. */
static size_t format_ld(long double v, char *out, size_t cap) {
    int n;
    size_t len;
    if (isinf(v)) {
        const char *s = v > 0 ? "inf" : "-inf";
        len = strlen(s);
        memcpy(out, s, len);
        return len;
    }
    n = snprintf(out, cap, "%.17Lf", v);
    if (n < 0 || (size_t)n + 1 > cap) return 0;
    len = (size_t)n;
    if (memchr(out, '.', len) != NULL) {
        while (len > 0 && out[len - 1] == '0') len--;
        if (len > 0 && out[len - 1] == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    return len;
}

/*
 * Adds `incr` to `cur` (cur == NULL means 0). Result bits:
 *   1: cur is not a valid float
 *   2: incr is not a valid float
 *   4: incr is NaN or infinite
 *   8: the sum is NaN or infinite
 * On 0 the formatted sum is in out[0..*out_len].
 */
int rd_ld_add(const char *cur, size_t cur_len, const char *incr, size_t incr_len,
              char *out, size_t cap, size_t *out_len) {
    long double a = 0, b = 0, sum;
    int flags = 0;
    if (cur != NULL && !parse_ld(cur, cur_len, &a)) flags |= 1;
    if (!parse_ld(incr, incr_len, &b)) flags |= 2;
    else if (isinf(b)) flags |= 4;
    if (flags & 3) return flags;
    sum = a + b;
    if (isnan(sum) || isinf(sum)) return flags | 8;
    if (flags) return flags;
    *out_len = format_ld(sum, out, cap);
    return *out_len == 0 ? 8 : 0;
}

/*
 * A blocking timeout in seconds as Redis reads it: strtold, times 1000,
 * rounded up. A product too large for a long long becomes LLONG_MIN, the
 * value Redis's conversion produces on x86-64 (so it reads as negative).
 * Returns 0 when `s` is not a float, else 1 with the milliseconds stored.
 */
int rd_timeout_ms(const char *s, size_t len, long long *out) {
    long double v;
    if (!parse_ld(s, len, &v)) return 0;
    v = ceill(v * 1000.0L);
    if (!(v < 9223372036854775807.0L) || !(v > -9223372036854775807.0L)) {
        *out = (-9223372036854775807LL - 1);
    } else {
        *out = (long long)v;
    }
    return 1;
}
