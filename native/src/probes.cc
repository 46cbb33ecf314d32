// Kernel capability probes through libbpf.
#include "common.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstring>

namespace ss {

namespace {

Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  uint32_t type = ArgU32(info, 0, "probeMapType", "type");
  int rc = libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(type), nullptr);
  return Napi::Boolean::New(info.Env(), rc == 1);
}

// libbpf 1.1 only recognises the "invalid func"/"unknown func" wording; newer kernels say
// "program of this type cannot use helper", which libbpf 1.1 takes for support.
// Returns 1/0 when the verifier's answer is clear, -1 otherwise.
int ProbeHelperDirect(uint32_t prog_type, uint32_t helper) {
  struct bpf_insn insns[3];
  memset(insns, 0, sizeof insns);
  insns[0].code = BPF_JMP | BPF_CALL;
  insns[0].imm = static_cast<int32_t>(helper);
  insns[1].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
  insns[2].code = BPF_JMP | BPF_EXIT;
  static char log[16384];
  log[0] = '\0';
  struct bpf_prog_load_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.sz = sizeof opts;
  opts.log_buf = log;
  opts.log_size = sizeof log;
  opts.log_level = 1;
  int fd = bpf_prog_load(static_cast<enum bpf_prog_type>(prog_type), nullptr, "GPL", insns, 3, &opts);
  if (fd >= 0) {
    close(fd);
    return 1;
  }
  if (strstr(log, "invalid func ") || strstr(log, "unknown func ") || strstr(log, "cannot use helper")) return 0;
  return -1;
}

Napi::Value ProbeHelper(const Napi::CallbackInfo& info) {
  uint32_t prog_type = ArgU32(info, 0, "probeHelper", "progType");
  uint32_t helper = ArgU32(info, 1, "probeHelper", "helperId");
  int direct = ProbeHelperDirect(prog_type, helper);
  if (direct >= 0) return Napi::Boolean::New(info.Env(), direct == 1);
  int rc = libbpf_probe_bpf_helper(static_cast<enum bpf_prog_type>(prog_type), static_cast<enum bpf_func_id>(helper),
                                   nullptr);
  return Napi::Boolean::New(info.Env(), rc == 1);
}

}  // namespace

void InitProbes(Napi::Env env, Napi::Object exports) {
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType, "probeMapType"));
  exports.Set("probeHelper", Napi::Function::New(env, ProbeHelper, "probeHelper"));
}

}  // namespace ss
