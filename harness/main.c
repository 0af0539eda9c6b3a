#include <stdio.h>
#include "version.h"
int main(void) { printf("tally %s\n", TALLY_VERSION); return 0; }
