/* layering probe (tests/layering): models cannot see the wire format. */
#include "satisfy/codec.h"
int probe(void);
int probe(void) { return 0; }
