/* alloc.c — counting allocator shim with fail-the-Nth injection for tests.
 * Each block carries a 16-byte header holding its size, so frees can be counted. */
#include "harness/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HDR 16
#define HUGE_MIN (4u << 20)

static _Atomic size_t live_bytes;
static _Atomic size_t peak_bytes;
static _Atomic uint64_t alloc_calls;
static _Atomic uint64_t fail_at; /* absolute call number to fail, 0 = off */
static _Atomic int fail_fired;
static _Atomic uint64_t failures;

static int should_fail(void)
{
    uint64_t k = atomic_fetch_add(&alloc_calls, 1) + 1;
    uint64_t target = atomic_load(&fail_at);
    if (target && k == target) {
        atomic_store(&fail_at, 0);
        atomic_store(&fail_fired, 1);
        atomic_fetch_add(&failures, 1);
        return 1;
    }
    return 0;
}

static void account(size_t add, size_t sub)
{
    size_t now = atomic_fetch_add(&live_bytes, add) + add;
    atomic_fetch_sub(&live_bytes, sub);
    now -= sub;
    size_t peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {}
}

/* Columns of a million rows are megabytes each, and an evaluation allocates and frees one
 * per operation: faulting them in 4 KiB pages costs more than the arithmetic. Large blocks
 * ask for transparent huge pages (as numpy does for its arrays); advice only, errors are
 * ignored. */
static void advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    if (n < HUGE_MIN) return;
    uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + n) & ~(uintptr_t)4095;
    if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

void *hml_malloc(size_t n)
{
    if (should_fail() || n > SIZE_MAX - HDR) return NULL;
    unsigned char *p = malloc(n + HDR);
    if (!p) return atomic_fetch_add(&failures, 1), NULL;
    memcpy(p, &n, sizeof n);
    account(n, 0);
    advise_huge(p, n + HDR);
    return p + HDR;
}

void *hml_calloc(size_t count, size_t size)
{
    if (size && count > (SIZE_MAX - HDR) / size) return NULL;
    size_t n = count * size;
    if (should_fail()) return NULL;
    unsigned char *p = calloc(1, n + HDR);
    if (!p) return atomic_fetch_add(&failures, 1), NULL;
    memcpy(p, &n, sizeof n);
    account(n, 0);
    advise_huge(p, n + HDR);
    return p + HDR;
}

void *hml_realloc(void *ptr, size_t n)
{
    if (!ptr) return hml_malloc(n);
    if (should_fail() || n > SIZE_MAX - HDR) return NULL;
    unsigned char *base = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    unsigned char *p = realloc(base, n + HDR);
    if (!p) return atomic_fetch_add(&failures, 1), NULL;
    memcpy(p, &n, sizeof n);
    account(n, old);
    advise_huge(p, n + HDR);
    return p + HDR;
}

void hml_free(void *ptr)
{
    if (!ptr) return;
    unsigned char *base = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    atomic_fetch_sub(&live_bytes, old);
    free(base);
}

char *hml_strndup(const char *s, size_t n)
{
    char *d = hml_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *hml_strdup(const char *s)
{
    return s ? hml_strndup(s, strlen(s)) : NULL;
}

size_t hml_alloc_live_bytes(void) { return atomic_load(&live_bytes); }
size_t hml_alloc_peak_bytes(void) { return atomic_load(&peak_bytes); }
uint64_t hml_alloc_count(void) { return atomic_load(&alloc_calls); }

void hml_alloc_fail_at(uint64_t n)
{
    atomic_store(&fail_fired, 0);
    atomic_store(&fail_at, n ? atomic_load(&alloc_calls) + n : 0);
}

int hml_alloc_failed(void) { return atomic_load(&fail_fired); }
uint64_t hml_alloc_failures(void) { return atomic_load(&failures); }
