/* layering probe (tests/layering): the features layer cannot see the lifecycle builder. */
#include "satisfy/lifecycle.h"
int probe(void);
int probe(void) { return 0; }
