/* t.h — the unit-test harness: TEST(name) registers a test; T_* assert.
 * Each test runs in a forked child with a timeout; output is TAP. */
#ifndef HML_T_H
#define HML_T_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*t_fn)(void);
void t_register(const char *name, t_fn fn);
void t_failf(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A scratch directory unique to the running test (created on first use, removed after). */
const char *t_tmpdir(void);
/* Path of a file under ../shared/data (the datasets shipped beside the checkout). */
const char *t_shared_data(const char *name);

#define TEST(name)                                                          \
    static void test_##name(void);                                          \
    __attribute__((constructor)) static void reg_##name(void)              \
    { t_register(#name, test_##name); }                                     \
    static void test_##name(void)

#define T_OK(x) do { if (!(x)) t_failf(__FILE__, __LINE__, "expected: %s", #x); } while (0)
#define T_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a != _b) t_failf(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, _a, _b); } while (0)
#define T_STREQ(a, b) do { const char *_a = (a), *_b = (b); \
    if (!_a || !_b || strcmp(_a, _b)) t_failf(__FILE__, __LINE__, "%s == %s: '%s' != '%s'", #a, #b, \
        _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define T_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); \
    if (!_h || !strstr(_h, _n)) t_failf(__FILE__, __LINE__, "'%s' does not contain '%s'", \
        _h ? _h : "(null)", _n); } while (0)
#define T_NEAR(a, b, tol) do { double _a = (a), _b = (b); \
    if (!(fabs(_a - _b) <= (tol))) t_failf(__FILE__, __LINE__, "%s ≈ %s: %.17g vs %.17g", #a, #b, _a, _b); } while (0)
/* Asserts an hml call succeeded, printing the error when not. */
#define T_RC(call, errp) do { int _rc = (int)(call); \
    if (_rc) t_failf(__FILE__, __LINE__, "%s failed: %s [%s] hint: %s", #call, (errp)->message, \
        (errp)->where, (errp)->hint); } while (0)

#endif
