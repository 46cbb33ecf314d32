// SPDX-License-Identifier: GPL-2.0
/* l2-bridge with parse and the latency monitor folded in: see l2-bridge.yaml `folds`. */
#define SS_FOLD_EPPING
#include "l2_bridge.bpf.c"
