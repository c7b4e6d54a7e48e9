/* alloc.h — the one allocator shim: counts live bytes and can fail the Nth allocation.
 *
 * All engine allocations go through these (jansson's too, via hml_json_init).
 * hml_free(NULL) is a no-op. Thread-safe.
 */
#ifndef HML_ALLOC_H
#define HML_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *hml_malloc(size_t n);
void *hml_calloc(size_t count, size_t size);
void *hml_realloc(void *p, size_t n);
void  hml_free(void *p);
char *hml_strdup(const char *s);
char *hml_strndup(const char *s, size_t n);

/* Bytes currently allocated through the shim, and the high-water mark. */
size_t hml_alloc_live_bytes(void);
size_t hml_alloc_peak_bytes(void);
/* Number of allocations made so far (malloc/calloc/realloc calls). */
uint64_t hml_alloc_count(void);

/* Allocations that returned NULL so far (injected or real). A library that cannot
 * report out-of-memory itself (jansson's parser reports it as a syntax error) is
 * checked by comparing this before and after the call. */
uint64_t hml_alloc_failures(void);

/* Tests: make the nth allocation from now fail (1 = the next one); 0 disables.
 * Once the failure has fired, allocation works again. */
void hml_alloc_fail_at(uint64_t n);
/* Tests: non-zero when the armed failure has fired. */
int hml_alloc_failed(void);

#endif
