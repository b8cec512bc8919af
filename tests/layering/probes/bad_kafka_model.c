/* layering probe (tests/layering): the Kafka helpers cannot see models. */
#include "satisfy/model.h"
int probe(void);
int probe(void) { return 0; }
