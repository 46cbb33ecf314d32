// SPDX-License-Identifier: GPL-2.0
/* l3-router with parse and the latency monitor folded in: see l3-router.yaml `folds`. */
#define SS_FOLD_EPPING
#include "l3_router.bpf.c"
