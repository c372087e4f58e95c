#include "sn-graph.h"
/* placeholder: written in the next commit */
