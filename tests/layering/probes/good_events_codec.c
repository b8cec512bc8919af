/* layering probe (tests/layering): a program on the events layer alone builds and links. */
#include "satisfy/codec.h"
int main(void) { return 0; }
