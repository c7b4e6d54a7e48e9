/* arena.h — request-scoped bump allocator with a byte cap.
 * Everything allocated from an arena is freed at once by hml_arena_fini. */
#ifndef HML_ARENA_H
#define HML_ARENA_H

#include <stddef.h>

struct hml_arena_chunk;

struct hml_arena {
    struct hml_arena_chunk *head;
    size_t used_bytes;
    size_t cap_bytes; /* 0 = no cap */
};

void  hml_arena_init(struct hml_arena *a, size_t cap_bytes);
void  hml_arena_fini(struct hml_arena *a);
/* Returns NULL when the cap is hit or memory is out. Aligned to 16. */
void *hml_arena_alloc(struct hml_arena *a, size_t n);
char *hml_arena_strdup(struct hml_arena *a, const char *s);
char *hml_arena_printf(struct hml_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
