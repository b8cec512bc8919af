/* layering probe (tests/layering): the codec cannot see the retrainer's store. */
#include "satisfy/store.h"
int probe(void);
int probe(void) { return 0; }
