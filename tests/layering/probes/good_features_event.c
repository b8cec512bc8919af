/* layering probe (tests/layering): the features layer sees its own header and the event types. */
#include "satisfy/features.h"
int probe(void);
int probe(void) { return sf_spec_full()->n; }
