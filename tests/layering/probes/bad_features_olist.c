/* layering probe (tests/layering): the features layer cannot see the CSV loader. */
#include "satisfy/olist.h"
int probe(void);
int probe(void) { return 0; }
