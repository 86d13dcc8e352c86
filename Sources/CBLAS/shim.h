// OpenBLAS's own cblas.h (found through pkg-config "openblas"), plus its thread-count control.
#include <cblas.h>
