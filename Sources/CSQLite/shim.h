#include <sqlite3.h>

/* SQLite counts its own memory use under a mutex it takes on every allocation and free, for
   sqlite3_memory_used() and soft heap limits, which Pumasi does not use. Turned off once, before the
   first connection (sqlite3_config is variadic, so Swift calls it through this). Returns SQLITE_MISUSE if
   SQLite was already in use, and changes nothing then. */
static inline int pumasi_sqlite3_count_no_memory(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
