/* layering probe (tests/layering): the codec does not link SQLite. */
#include <sqlite3.h>
int main(void) { return sqlite3_libversion_number() > 0; }
