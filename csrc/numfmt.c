/*
 * printf/strtod helpers, so doubles print and parse byte for byte as Redis
 * does (Redis uses "%.17g" for scores and strtod() to read them: hex,
 * "inf", "INFINITY" and exponents included).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Formats `v` with "%.<precision>g" into `out`; returns the length. */
size_t rd_fmt_g(double v, int precision, char *out, size_t cap) {
    int n = snprintf(out, cap, "%.*g", precision, v);
    if (n < 0) return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/*
 * Parses `len` bytes as a double the way Redis's zset code does (strtod,
 * the whole input consumed, no leading space, no NaN, no overflow or
 * underflow to zero). Returns 1 and stores the value, or 0.
 */
int rd_strtod(const char *s, size_t len, double *out) {
    char buf[256];
    char *end;
    double v;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] == ' ' || buf[0] == '\t' || buf[0] == '\n' || buf[0] == '\r' || buf[0] == '\v' || buf[0] == '\f') return 0;
    errno = 0;
    v = strtod(buf, &end);
    if (end[0] != '\0' || (size_t)(end - buf) != len) return 0;
    if (errno == ERANGE) return 0;
    if (isnan(v)) return 0;
    *out = v;
    return 1;
}

/*
 * strtod() over the longest prefix of `len` bytes it accepts (leading
 * space, hex, "inf"/"nan", overflow to inf all as C's strtod). Returns
 * how many bytes it consumed (0: no number) and stores the value.
 */
size_t rd_strtod_prefix(const char *s, size_t len, double *out) {
    char buf[512];
    char *end;
    if (len >= sizeof(buf)) len = sizeof(buf) - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod(buf, &end);
    return (size_t)(end - buf);
}
