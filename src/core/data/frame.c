/* frame.c — typed, reference-counted columns, string dictionaries and frames.
 *
 * Dictionaries are on the CSV hot path, so they are an open-addressing hash table
 * (linear probing, power-of-two slots, each slot carrying the code and 32 bits of
 * the hash so most mismatches are rejected without touching the string). Strings
 * live in append-only blocks that never move, so hml_dict_get pointers stay valid
 * for the dictionary's whole life even while it grows. */
#include "harness/frame.h"
#include "harness/alloc.h"
#include "frame_int.h"
#include "csv_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- types ------------------------------------------------------------------------ */

const char *hml_type_name(enum hml_type t)
{
    switch (t) {
    case HML_TYPE_F64: return "float";
    case HML_TYPE_I64: return "int";
    case HML_TYPE_BOOL: return "bool";
    case HML_TYPE_STR: return "string";
    case HML_TYPE_DATE: return "date";
    }
    return "unknown";
}

bool hml_type_parse(const char *name, enum hml_type *out)
{
    static const struct { const char *name; enum hml_type t; } aliases[] = {
        {"float", HML_TYPE_F64},   {"f64", HML_TYPE_F64},      {"double", HML_TYPE_F64},
        {"number", HML_TYPE_F64},  {"numeric", HML_TYPE_F64},  {"real", HML_TYPE_F64},
        {"float64", HML_TYPE_F64}, {"int", HML_TYPE_I64},      {"i64", HML_TYPE_I64},
        {"integer", HML_TYPE_I64}, {"int64", HML_TYPE_I64},    {"long", HML_TYPE_I64},
        {"bool", HML_TYPE_BOOL},   {"boolean", HML_TYPE_BOOL}, {"logical", HML_TYPE_BOOL},
        {"string", HML_TYPE_STR},  {"str", HML_TYPE_STR},      {"text", HML_TYPE_STR},
        {"object", HML_TYPE_STR},  {"varchar", HML_TYPE_STR},  {"date", HML_TYPE_DATE},
    };
    if (!name) return false;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcasecmp(name, aliases[i].name) == 0) {
            *out = aliases[i].t;
            return true;
        }
    }
    return false;
}

size_t hml__type_width(enum hml_type t)
{
    switch (t) {
    case HML_TYPE_F64:
    case HML_TYPE_I64: return 8;
    case HML_TYPE_BOOL: return 1;
    case HML_TYPE_STR:
    case HML_TYPE_DATE: return 4;
    }
    HML_ASSERT(!"bad column type");
    return 8;
}

/* ---- dictionary ---------------------------------------------------------------------- */

struct dict_block {
    struct dict_block *next;
    size_t used, cap;
    char data[];
};

struct dict_entry {
    const char *s;
    uint32_t len;
    uint32_t hash32;
};

struct hml_dict {
    struct dict_entry *ent; /* by code */
    size_t n, cap;
    uint64_t *slots;        /* (hash32 << 32) | (code + 1); 0 = empty */
    size_t mask;
    struct dict_block *blocks;
    size_t block_bytes;
};

#define DICT_SLOTS_MIN 16u
#define DICT_BLOCK_MIN 256u
#define DICT_BLOCK_MAX (1u << 20)

struct hml_dict *hml_dict_new(void)
{
    struct hml_dict *d = hml_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->slots = hml_calloc(DICT_SLOTS_MIN, sizeof *d->slots);
    if (!d->slots) {
        hml_free(d);
        return NULL;
    }
    d->mask = DICT_SLOTS_MIN - 1;
    return d;
}

void hml_dict_free(struct hml_dict *d)
{
    if (!d) return;
    struct dict_block *b = d->blocks;
    while (b) {
        struct dict_block *next = b->next;
        hml_free(b);
        b = next;
    }
    hml_free(d->ent);
    hml_free(d->slots);
    hml_free(d);
}

static uint64_t *probe(const struct hml_dict *d, const char *s, size_t len, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & d->mask;; i = (i + 1) & d->mask) {
        uint64_t v = d->slots[i];
        if (v == 0) return &d->slots[i];
        if ((uint32_t)(v >> 32) != tag) continue;
        const struct dict_entry *e = &d->ent[(uint32_t)v - 1];
        if (e->len == len && memcmp(e->s, s, len) == 0) return &d->slots[i];
    }
}

static bool grow_slots(struct hml_dict *d)
{
    size_t nslots = (d->mask + 1) * 2;
    uint64_t *slots = hml_calloc(nslots, sizeof *slots);
    if (!slots) return false;
    size_t mask = nslots - 1;
    for (size_t c = 0; c < d->n; c++) {
        /* Only 32 hash bits are kept per entry, so rehash the full string. */
        uint64_t h = hml__hash_bytes(d->ent[c].s, d->ent[c].len, 0);
        size_t i = (size_t)h & mask;
        while (slots[i]) i = (i + 1) & mask;
        slots[i] = ((h >> 32) << 32) | (uint64_t)(c + 1);
    }
    hml_free(d->slots);
    d->slots = slots;
    d->mask = mask;
    return true;
}

/* Copies s into the block arena (NUL-terminated); NULL on OOM. */
static const char *store_string(struct hml_dict *d, const char *s, size_t len)
{
    struct dict_block *b = d->blocks;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = b ? b->cap * 2 : DICT_BLOCK_MIN;
        if (cap > DICT_BLOCK_MAX) cap = DICT_BLOCK_MAX;
        if (cap < len + 1) cap = len + 1;
        struct dict_block *nb = hml_malloc(sizeof *nb + cap);
        if (!nb) return NULL;
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        d->blocks = nb;
        d->block_bytes += sizeof *nb + cap;
        b = nb;
    }
    char *dst = b->data + b->used;
    memcpy(dst, s, len);
    dst[len] = 0;
    b->used += len + 1;
    return dst;
}

int32_t hml__dict_intern_h(struct hml_dict *d, const char *s, size_t len, uint64_t h)
{
    uint64_t *slot = probe(d, s, len, h);
    if (*slot) return (int32_t)((uint32_t)*slot - 1);
    if (len > UINT32_MAX || d->n >= INT32_MAX) return -1;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct dict_entry *ent = hml_realloc(d->ent, cap * sizeof *ent);
        if (!ent) return -1;
        d->ent = ent;
        d->cap = cap;
    }
    /* Keep the load factor under 1/2 so probe chains stay short. */
    if ((d->n + 1) * 2 > d->mask + 1) {
        if (!grow_slots(d)) return -1;
        slot = probe(d, s, len, h);
    }
    const char *copy = store_string(d, s, len);
    if (!copy) return -1;
    int32_t code = (int32_t)d->n;
    d->ent[d->n++] = (struct dict_entry){copy, (uint32_t)len, (uint32_t)(h >> 32)};
    *slot = ((h >> 32) << 32) | (uint64_t)(code + 1);
    return code;
}

int32_t hml_dict_intern(struct hml_dict *d, const char *s, size_t len)
{
    return hml__dict_intern_h(d, s, len, hml__hash_bytes(s, len, 0));
}

int32_t hml_dict_find(const struct hml_dict *d, const char *s, size_t len)
{
    uint64_t *slot = probe(d, s, len, hml__hash_bytes(s, len, 0));
    return *slot ? (int32_t)((uint32_t)*slot - 1) : -1;
}

const char *hml_dict_get(const struct hml_dict *d, int32_t code)
{
    HML_ASSERT(code >= 0);
    HML_ASSERT((size_t)code < d->n);
    return d->ent[code].s;
}

size_t hml_dict_len(const struct hml_dict *d, int32_t code)
{
    HML_ASSERT(code >= 0);
    HML_ASSERT((size_t)code < d->n);
    return d->ent[code].len;
}

size_t hml_dict_size(const struct hml_dict *d) { return d->n; }

size_t hml__dict_bytes(const struct hml_dict *d)
{
    if (!d) return 0;
    return sizeof *d + d->cap * sizeof *d->ent + (d->mask + 1) * sizeof *d->slots + d->block_bytes;
}

/* ---- columns ------------------------------------------------------------------------- */

struct hml_column *hml__column_wrap(enum hml_type t, size_t n, void *data, uint8_t *valid,
                                    size_t null_count, struct hml_dict *dict)
{
    struct hml_column *c = hml_calloc(1, sizeof *c);
    if (!c) {
        hml_free(data);
        hml_free(valid);
        hml_dict_free(dict);
        return NULL;
    }
    HML_ASSERT(data != NULL);
    HML_ASSERT((t == HML_TYPE_STR) == (dict != NULL));
    *c = (struct hml_column){.refs = 1, .type = t, .n = n, .data = data, .valid = valid,
                             .null_count = null_count, .dict = dict};
    return c;
}

struct hml_column *hml_column_new(enum hml_type t, size_t n)
{
    void *data = hml_calloc(n ? n : 1, hml__type_width(t));
    struct hml_dict *dict = NULL;
    if (t == HML_TYPE_STR && data && !(dict = hml_dict_new())) {
        hml_free(data);
        return NULL;
    }
    if (!data) return NULL;
    return hml__column_wrap(t, n, data, NULL, 0, dict);
}

static struct hml_dict *dict_copy(const struct hml_dict *src)
{
    struct hml_dict *d = hml_dict_new();
    if (!d) return NULL;
    for (size_t c = 0; c < src->n; c++) {
        if (hml_dict_intern(d, src->ent[c].s, src->ent[c].len) != (int32_t)c) {
            hml_dict_free(d);
            return NULL;
        }
    }
    return d;
}

struct hml_column *hml_column_copy(const struct hml_column *c)
{
    size_t bytes = (c->n ? c->n : 1) * hml__type_width(c->type);
    void *data = hml_malloc(bytes);
    uint8_t *valid = c->valid ? hml_malloc(hml__bitmap_bytes(c->n) + 1) : NULL;
    struct hml_dict *dict = c->dict ? dict_copy(c->dict) : NULL;
    if (!data || (c->valid && !valid) || (c->dict && !dict)) {
        hml_free(data);
        hml_free(valid);
        hml_dict_free(dict);
        return NULL;
    }
    memcpy(data, c->data, bytes);
    if (valid) memcpy(valid, c->valid, hml__bitmap_bytes(c->n));
    return hml__column_wrap(c->type, c->n, data, valid, c->null_count, dict);
}

void hml_column_ref(struct hml_column *c)
{
    HML_ASSERT(c->refs > 0);
    c->refs++;
}

void hml_column_unref(struct hml_column *c)
{
    if (!c) return;
    HML_ASSERT(c->refs > 0);
    if (--c->refs > 0) return;
    hml_free(c->data);
    hml_free(c->valid);
    hml_dict_free(c->dict);
    hml_free(c);
}

bool hml_column_set_null(struct hml_column *c, size_t i)
{
    HML_ASSERT(i < c->n);
    if (!c->valid) {
        /* One spare byte so a zero-row column still gets a real allocation. */
        c->valid = hml_malloc(hml__bitmap_bytes(c->n) + 1);
        if (!c->valid) return false;
        memset(c->valid, 0xff, hml__bitmap_bytes(c->n) + 1);
    }
    if (hml_column_is_null(c, i)) return true;
    c->valid[i >> 3] &= (uint8_t)~(1u << (i & 7));
    c->null_count++;
    size_t w = hml__type_width(c->type);
    memset((char *)c->data + i * w, 0, w);
    return true;
}

void hml_column_set_valid(struct hml_column *c, size_t i)
{
    HML_ASSERT(i < c->n);
    if (!hml_column_is_null(c, i)) return;
    c->valid[i >> 3] |= (uint8_t)(1u << (i & 7));
    c->null_count--;
}

double hml_column_num(const struct hml_column *c, size_t i)
{
    HML_ASSERT(i < c->n);
    if (hml_column_is_null(c, i)) return NAN;
    switch (c->type) {
    case HML_TYPE_F64: return hml_f64(c)[i];
    case HML_TYPE_I64: return (double)hml_i64(c)[i];
    case HML_TYPE_BOOL: return hml_bool(c)[i];
    case HML_TYPE_DATE: return hml_days(c)[i];
    case HML_TYPE_STR: return NAN;
    }
    return NAN;
}

const char *hml_column_str(const struct hml_column *c, size_t i)
{
    HML_ASSERT(i < c->n);
    if (c->type != HML_TYPE_STR || hml_column_is_null(c, i)) return NULL;
    return hml_dict_get(c->dict, hml_codes(c)[i]);
}

bool hml_column_is_numeric(const struct hml_column *c)
{
    return c->type == HML_TYPE_F64 || c->type == HML_TYPE_I64 || c->type == HML_TYPE_BOOL;
}

/* Shortest "%.Ng" that reads back to exactly v; integral values keep a ".0" so a
 * float column still reads back as float. */
static int format_double(double v, char *tmp, size_t cap)
{
    if (isnan(v)) return snprintf(tmp, cap, "nan");
    if (isinf(v)) return snprintf(tmp, cap, v < 0 ? "-inf" : "inf");
    int n = 0;
    /* 17 digits always read back exactly, so only the shorter tries are checked;
     * the check uses the CSV reader's exact parser (its fast path skips strtod). */
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, cap, "%.*g", prec, v);
        double back;
        if (prec == 17 || (n > 0 && hml__parse_f64(tmp, (size_t)n, &back) && back == v)) break;
    }
    if (n > 0 && (size_t)n + 2 < cap && !strpbrk(tmp, ".e")) {
        memcpy(tmp + n, ".0", 3);
        n += 2;
    }
    return n;
}

size_t hml_column_format(const struct hml_column *c, size_t i, char *buf, size_t cap)
{
    HML_ASSERT(i < c->n);
    if (cap == 0) return 0;
    char tmp[64];
    const char *s = tmp;
    size_t len;
    if (hml_column_is_null(c, i)) {
        s = "";
        len = 0;
    } else if (c->type == HML_TYPE_STR) {
        s = hml_dict_get(c->dict, hml_codes(c)[i]);
        len = hml_dict_len(c->dict, hml_codes(c)[i]);
    } else {
        int n = 0;
        if (c->type == HML_TYPE_F64) {
            n = format_double(hml_f64(c)[i], tmp, sizeof tmp);
        } else if (c->type == HML_TYPE_I64) {
            n = snprintf(tmp, sizeof tmp, "%lld", (long long)hml_i64(c)[i]);
        } else if (c->type == HML_TYPE_BOOL) {
            n = snprintf(tmp, sizeof tmp, "%s", hml_bool(c)[i] ? "true" : "false");
        } else {
            int y, m, d;
            hml_date_to_ymd(hml_days(c)[i], &y, &m, &d);
            n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
        }
        len = n > 0 ? (size_t)n : 0;
    }
    if (len > cap - 1) len = cap - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    return len;
}

/* ---- dates (Howard Hinnant's civil-calendar algorithms) ------------------------------ */

int32_t hml_date_from_ymd(int y, int m, int d)
{
    long yy = y - (m <= 2);
    long era = (yy >= 0 ? yy : yy - 399) / 400;
    long yoe = yy - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

void hml_date_to_ymd(int32_t days, int *y, int *m, int *d)
{
    long z = (long)days + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

bool hml_date_parse(const char *s, size_t len, int32_t *days_out)
{
    static const unsigned char mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != 10 || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (unsigned)(s[i] - '0') > 9) return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (m < 1 || m > 12 || d < 1 || d > mdays[m]) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap) return false;
    *days_out = hml_date_from_ymd(y, m, d);
    return true;
}

/* ---- frames -------------------------------------------------------------------------- */

struct hml_frame *hml_frame_new(void) { return hml_calloc(1, sizeof(struct hml_frame)); }

void hml_frame_free(struct hml_frame *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->ncols; i++) {
        hml_free(f->names[i]);
        hml_column_unref(f->cols[i]);
    }
    hml_free(f->names);
    hml_free(f->cols);
    hml_free(f);
}

static bool reserve_cols(struct hml_frame *f, size_t want)
{
    if (want <= f->cap) return true;
    size_t cap = f->cap ? f->cap * 2 : 8;
    while (cap < want) cap *= 2;
    char **names = hml_realloc(f->names, cap * sizeof *names);
    if (!names) return false;
    f->names = names;
    struct hml_column **cols = hml_realloc(f->cols, cap * sizeof *cols);
    if (!cols) return false;
    f->cols = cols;
    f->cap = cap;
    return true;
}

enum hml_status hml_frame_add(struct hml_frame *f, const char *name, struct hml_column *c,
                              struct hml_error *err)
{
    HML_ASSERT(c != NULL);
    if (!name || !*name) {
        hml_fail(err, HML_EINVAL, "frame", "column name is empty");
        return hml_hint(err, "give every column a non-empty name");
    }
    if (hml_frame_find(f, name) >= 0) {
        hml_fail(err, HML_ECONFLICT, "frame", "column '%s' already exists", name);
        return hml_hint(err, "pick another name, or drop or rename the existing column first");
    }
    if (f->ncols >= HML_FRAME_COLS_MAX) {
        hml_fail(err, HML_ELIMIT, "frame", "a frame holds at most %u columns", HML_FRAME_COLS_MAX);
        return hml_hint(err, "select fewer columns (HML_FRAME_COLS_MAX)");
    }
    if (c->n > HML_FRAME_ROWS_MAX) {
        hml_fail(err, HML_ELIMIT, "frame", "column '%s' has %zu rows; the limit is %u", name, c->n,
                 HML_FRAME_ROWS_MAX);
        return hml_hint(err, "sample or split the data (HML_FRAME_ROWS_MAX)");
    }
    if (f->ncols > 0 && c->n != f->nrows) {
        hml_fail(err, HML_EINVAL, "frame", "column '%s' has %zu rows but the frame has %zu", name,
                 c->n, f->nrows);
        return hml_hint(err, "every column of a frame must have the same number of rows");
    }
    char *copy = hml_strdup(name);
    if (!copy || !reserve_cols(f, f->ncols + 1)) {
        hml_free(copy);
        return hml_fail(err, HML_ENOMEM, "frame", "out of memory adding column '%s'", name);
    }
    if (f->ncols == 0) f->nrows = c->n;
    hml_column_ref(c);
    f->names[f->ncols] = copy;
    f->cols[f->ncols++] = c;
    return HML_OK;
}

enum hml_status hml_frame_replace(struct hml_frame *f, size_t i, struct hml_column *c,
                                  struct hml_error *err)
{
    HML_ASSERT(c != NULL);
    if (i >= f->ncols) {
        hml_fail(err, HML_EINVAL, "frame", "column index %zu is out of range (the frame has %zu)",
                 i, f->ncols);
        return hml_hint(err, "use an index below %zu", f->ncols);
    }
    if (c->n != f->nrows) {
        hml_fail(err, HML_EINVAL, "frame", "column '%s' must have %zu rows, not %zu", f->names[i],
                 f->nrows, c->n);
        return hml_hint(err, "build the replacement with the frame's row count");
    }
    hml_column_ref(c);
    hml_column_unref(f->cols[i]);
    f->cols[i] = c;
    return HML_OK;
}

long hml_frame_find(const struct hml_frame *f, const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < f->ncols; i++)
        if (strcmp(f->names[i], name) == 0) return (long)i;
    return -1;
}

enum hml_status hml_frame_lookup(const struct hml_frame *f, const char *name, size_t *idx,
                                 struct hml_error *err)
{
    long i = hml_frame_find(f, name);
    if (i >= 0) {
        *idx = (size_t)i;
        return HML_OK;
    }
    hml_fail(err, HML_ENOTFOUND, "frame", "column '%s' not found", name ? name : "");
    return hml_error_choices(err, name ? name : "", (const char *const *)f->names, f->ncols);
}

enum hml_status hml_frame_rename(struct hml_frame *f, const char *from, const char *to,
                                 struct hml_error *err)
{
    size_t i;
    enum hml_status rc = hml_frame_lookup(f, from, &i, err);
    if (rc) return rc;
    if (!to || !*to) {
        hml_fail(err, HML_EINVAL, "frame", "new name for column '%s' is empty", from);
        return hml_hint(err, "give a non-empty name");
    }
    if (strcmp(from, to) == 0) return HML_OK;
    if (hml_frame_find(f, to) >= 0) {
        hml_fail(err, HML_ECONFLICT, "frame", "cannot rename '%s' to '%s': '%s' already exists",
                 from, to, to);
        return hml_hint(err, "drop or rename '%s' first, or pick another name", to);
    }
    char *copy = hml_strdup(to);
    if (!copy) return hml_fail(err, HML_ENOMEM, "frame", "out of memory");
    hml_free(f->names[i]);
    f->names[i] = copy;
    return HML_OK;
}

enum hml_status hml_frame_drop(struct hml_frame *f, const char *name, struct hml_error *err)
{
    size_t i;
    enum hml_status rc = hml_frame_lookup(f, name, &i, err);
    if (rc) return rc;
    hml_free(f->names[i]);
    hml_column_unref(f->cols[i]);
    memmove(f->names + i, f->names + i + 1, (f->ncols - i - 1) * sizeof *f->names);
    memmove(f->cols + i, f->cols + i + 1, (f->ncols - i - 1) * sizeof *f->cols);
    f->ncols--;
    return HML_OK;
}

struct hml_frame *hml_frame_select(const struct hml_frame *f, const size_t *idx, size_t n)
{
    struct hml_frame *g = hml_frame_new();
    if (!g || !reserve_cols(g, n)) {
        hml_frame_free(g);
        return NULL;
    }
    g->nrows = f->nrows;
    for (size_t k = 0; k < n; k++) {
        HML_ASSERT(idx[k] < f->ncols);
        char *name = hml_strdup(f->names[idx[k]]);
        if (!name) {
            hml_frame_free(g);
            return NULL;
        }
        hml_column_ref(f->cols[idx[k]]);
        g->names[g->ncols] = name;
        g->cols[g->ncols++] = f->cols[idx[k]];
    }
    return g;
}

struct hml_frame *hml_frame_clone(const struct hml_frame *f)
{
    struct hml_frame *g = hml_frame_new();
    if (!g || !reserve_cols(g, f->ncols)) {
        hml_frame_free(g);
        return NULL;
    }
    g->nrows = f->nrows;
    for (size_t k = 0; k < f->ncols; k++) {
        char *name = hml_strdup(f->names[k]);
        if (!name) {
            hml_frame_free(g);
            return NULL;
        }
        hml_column_ref(f->cols[k]);
        g->names[g->ncols] = name;
        g->cols[g->ncols++] = f->cols[k];
    }
    return g;
}

/* Appends an owned column to g under name (the frame keeps the only reference). */
static bool adopt(struct hml_frame *g, const char *name, struct hml_column *c)
{
    char *copy = c ? hml_strdup(name) : NULL;
    if (!copy || !reserve_cols(g, g->ncols + 1)) {
        hml_free(copy);
        hml_column_unref(c);
        return false;
    }
    if (g->ncols == 0) g->nrows = c->n;
    g->names[g->ncols] = copy;
    g->cols[g->ncols++] = c;
    return true;
}

/* Gathers the given rows of c; string codes are remapped into a fresh dictionary
 * holding only the strings still referenced, in first-use order. */
static struct hml_column *take_column(const struct hml_column *c, const size_t *rows, size_t n)
{
    struct hml_column *o = hml_column_new(c->type, n);
    int32_t *remap = NULL;
    if (!o) return NULL;
    if (c->type == HML_TYPE_STR) {
        remap = hml_malloc((hml_dict_size(c->dict) + 1) * sizeof *remap);
        if (!remap) goto fail;
        for (size_t k = 0; k < hml_dict_size(c->dict); k++) remap[k] = -1;
    }
    size_t w = hml__type_width(c->type);
    for (size_t k = 0; k < n; k++) {
        size_t r = rows[k];
        HML_ASSERT(r < c->n);
        if (hml_column_is_null(c, r)) {
            if (!hml_column_set_null(o, k)) goto fail;
            continue;
        }
        if (remap) {
            int32_t code = hml_codes(c)[r];
            if (remap[code] < 0) {
                remap[code] = hml_dict_intern(o->dict, hml_dict_get(c->dict, code),
                                              hml_dict_len(c->dict, code));
                if (remap[code] < 0) goto fail;
            }
            hml_codes(o)[k] = remap[code];
        } else {
            memcpy((char *)o->data + k * w, (const char *)c->data + r * w, w);
        }
    }
    hml_free(remap);
    return o;
fail:
    hml_free(remap);
    hml_column_unref(o);
    return NULL;
}

struct hml_frame *hml_frame_take(const struct hml_frame *f, const size_t *rows, size_t n)
{
    struct hml_frame *g = hml_frame_new();
    if (!g) return NULL;
    g->nrows = n;
    for (size_t k = 0; k < f->ncols; k++) {
        if (!adopt(g, f->names[k], take_column(f->cols[k], rows, n))) {
            hml_frame_free(g);
            return NULL;
        }
    }
    return g;
}

/* ---- concat -------------------------------------------------------------------------- */

/* The type that holds values of both a and b (see hml_frame_concat). */
static enum hml_type widen(enum hml_type a, enum hml_type b)
{
    if (a == b) return a;
    bool na = a == HML_TYPE_F64 || a == HML_TYPE_I64 || a == HML_TYPE_BOOL;
    bool nb = b == HML_TYPE_F64 || b == HML_TYPE_I64 || b == HML_TYPE_BOOL;
    if (na && nb) return HML_TYPE_F64;
    return HML_TYPE_STR;
}

/* Writes row r of src into row k of dst, converting to dst's type. */
static bool put_value(struct hml_column *dst, size_t k, const struct hml_column *src, size_t r)
{
    if (!src || hml_column_is_null(src, r)) return hml_column_set_null(dst, k);
    size_t w = hml__type_width(dst->type);
    if (dst->type == src->type && dst->type != HML_TYPE_STR) {
        memcpy((char *)dst->data + k * w, (const char *)src->data + r * w, w);
    } else if (dst->type == HML_TYPE_F64) {
        hml_f64(dst)[k] = hml_column_num(src, r);
    } else {
        HML_ASSERT(dst->type == HML_TYPE_STR);
        char tmp[64];
        const char *s = tmp;
        size_t len;
        if (src->type == HML_TYPE_STR) {
            s = hml_dict_get(src->dict, hml_codes(src)[r]);
            len = hml_dict_len(src->dict, hml_codes(src)[r]);
        } else {
            len = hml_column_format(src, r, tmp, sizeof tmp);
        }
        int32_t code = hml_dict_intern(dst->dict, s, len);
        if (code < 0) return false;
        hml_codes(dst)[k] = code;
    }
    return true;
}

static struct hml_column *concat_column(const struct hml_column *a, size_t na,
                                        const struct hml_column *b, size_t nb)
{
    enum hml_type t = a && b ? widen(a->type, b->type) : a ? a->type : b->type;
    struct hml_column *o = hml_column_new(t, na + nb);
    if (!o) return NULL;
    for (size_t r = 0; r < na; r++)
        if (!put_value(o, r, a, r)) goto fail;
    for (size_t r = 0; r < nb; r++)
        if (!put_value(o, na + r, b, r)) goto fail;
    return o;
fail:
    hml_column_unref(o);
    return NULL;
}

enum hml_status hml_frame_concat(const struct hml_frame *a, const struct hml_frame *b,
                                 struct hml_frame **out, struct hml_error *err)
{
    if (a->nrows + b->nrows > HML_FRAME_ROWS_MAX) {
        hml_fail(err, HML_ELIMIT, "frame.concat", "the result would have %zu rows; the limit is %u",
                 a->nrows + b->nrows, HML_FRAME_ROWS_MAX);
        return hml_hint(err, "concatenate fewer rows (HML_FRAME_ROWS_MAX)");
    }
    struct hml_frame *g = hml_frame_new();
    if (!g) return hml_fail(err, HML_ENOMEM, "frame.concat", "out of memory");
    g->nrows = a->nrows + b->nrows;
    /* a's columns in order, then b's columns that a lacks. */
    for (size_t k = 0; k < a->ncols; k++) {
        long j = hml_frame_find(b, a->names[k]);
        const struct hml_column *bc = j >= 0 ? b->cols[j] : NULL;
        if (!adopt(g, a->names[k], concat_column(a->cols[k], a->nrows, bc, b->nrows))) goto oom;
    }
    for (size_t k = 0; k < b->ncols; k++) {
        if (hml_frame_find(a, b->names[k]) >= 0) continue;
        if (!adopt(g, b->names[k], concat_column(NULL, a->nrows, b->cols[k], b->nrows))) goto oom;
    }
    *out = g;
    return HML_OK;
oom:
    hml_frame_free(g);
    return hml_fail(err, HML_ENOMEM, "frame.concat", "out of memory");
}

/* ---- size and fingerprint ---------------------------------------------------------- */

size_t hml_frame_bytes(const struct hml_frame *f)
{
    size_t total = 0;
    for (size_t k = 0; k < f->ncols; k++) {
        const struct hml_column *c = f->cols[k];
        total += c->n * hml__type_width(c->type);
        if (c->valid) total += hml__bitmap_bytes(c->n);
        total += hml__dict_bytes(c->dict);
    }
    return total;
}

static uint64_t fingerprint_column(uint64_t h, const struct hml_column *c)
{
    h = hml__hash_word(h, (uint64_t)c->type);
    for (size_t r = 0; r < c->n; r++) {
        if (hml_column_is_null(c, r)) {
            /* A different mixing step than values, so no value can hash like a null. */
            h = hml__mix(h ^ HML__P3, HML__P0);
            continue;
        }
        uint64_t v = 0;
        switch (c->type) {
        case HML_TYPE_F64: memcpy(&v, &hml_f64(c)[r], 8); break;
        case HML_TYPE_I64: v = (uint64_t)hml_i64(c)[r]; break;
        case HML_TYPE_BOOL: v = hml_bool(c)[r]; break;
        case HML_TYPE_DATE: v = (uint64_t)(uint32_t)hml_days(c)[r]; break;
        case HML_TYPE_STR: {
            int32_t code = hml_codes(c)[r];
            v = hml__hash_bytes(hml_dict_get(c->dict, code), hml_dict_len(c->dict, code), 1);
            break;
        }
        }
        h = hml__hash_word(h, v);
    }
    return h;
}

uint64_t hml_frame_fingerprint(const struct hml_frame *f)
{
    uint64_t h = hml__hash_word(0x686d6c6672616d65ull, (uint64_t)f->nrows);
    h = hml__hash_word(h, (uint64_t)f->ncols);
    for (size_t k = 0; k < f->ncols; k++) {
        h = hml__hash_word(h, hml__hash_bytes(f->names[k], strlen(f->names[k]), 2));
        h = fingerprint_column(h, f->cols[k]);
    }
    return h;
}
