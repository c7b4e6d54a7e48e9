/* arena.c — bump allocator over a list of chunks, capped in bytes. */
#include "harness/arena.h"
#include "harness/alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct hml_arena_chunk {
    struct hml_arena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

#define CHUNK_MIN (64u * 1024u)

void hml_arena_init(struct hml_arena *a, size_t cap_bytes)
{
    a->head = NULL;
    a->used_bytes = 0;
    a->cap_bytes = cap_bytes;
}

void hml_arena_fini(struct hml_arena *a)
{
    struct hml_arena_chunk *c = a->head;
    while (c) {
        struct hml_arena_chunk *next = c->next;
        hml_free(c);
        c = next;
    }
    a->head = NULL;
    a->used_bytes = 0;
}

void *hml_arena_alloc(struct hml_arena *a, size_t n)
{
    if (n > SIZE_MAX / 2) return NULL;
    n = (n + 15u) & ~(size_t)15u;
    if (a->cap_bytes && a->used_bytes + n > a->cap_bytes) return NULL;
    struct hml_arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = hml_malloc(sizeof *c + size);
        if (!c) return NULL;
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used_bytes += n;
    return p;
}

char *hml_arena_strdup(struct hml_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = hml_arena_alloc(a, n);
    if (d) memcpy(d, s, n);
    return d;
}

char *hml_arena_printf(struct hml_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *d = n < 0 ? NULL : hml_arena_alloc(a, (size_t)n + 1);
    if (d) vsnprintf(d, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return d;
}
