/* config_int.h — what config.c and config_schema.c share: the file layout. */
#ifndef HML_CONFIG_INT_H
#define HML_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

/* One config file and the top-level sections it holds. NOTE: keep in step with the
 * table in config.h's header comment. */
struct hml__config_file {
    const char *path;                /* relative to the project: "config/models.yaml" */
    const char *const *sections;     /* NULL-terminated                               */
    bool optional;                   /* not created while its sections are empty      */
};

/* In save order; terminated by an entry with path NULL. */
extern const struct hml__config_file hml__config_files[];

/* The file that holds `section`, or NULL for an unknown section. */
const struct hml__config_file *hml__config_file_of(const char *section);

/* Number of names in a NULL-terminated list. */
size_t hml__count(const char *const *names);

#endif
