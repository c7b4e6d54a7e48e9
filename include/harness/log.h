/* log.h — diagnostics go to stderr only: stdout belongs to the MCP protocol.
 * Level from $HARNESS_LOG (error, warn, info, debug; default warn). */
#ifndef HML_LOG_H
#define HML_LOG_H

enum hml_log_level { HML_LOG_ERROR = 0, HML_LOG_WARN, HML_LOG_INFO, HML_LOG_DEBUG };

void hml_log(enum hml_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hml_log_set_level(enum hml_log_level level);

#define hml_log_error(...) hml_log(HML_LOG_ERROR, __VA_ARGS__)
#define hml_log_warn(...)  hml_log(HML_LOG_WARN, __VA_ARGS__)
#define hml_log_info(...)  hml_log(HML_LOG_INFO, __VA_ARGS__)
#define hml_log_debug(...) hml_log(HML_LOG_DEBUG, __VA_ARGS__)

#endif
