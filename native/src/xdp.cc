// XDP attachment: bpf_link (preferred, atomic updates) and netlink (fallback).
#include "common.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>

namespace ss {

namespace {

// The kernel answers EINVAL (links) or "nothing attached" (query) for a missing device.
void RequireIfindex(Napi::Env env, uint32_t ifindex, const char* op) {
  char name[IF_NAMESIZE];
  if (ifindex == 0 || if_indextoname(ifindex, name) == nullptr)
    ThrowErrno(env, std::string(op) + " ifindex " + std::to_string(ifindex), ENODEV);
}

Napi::Value XdpLinkCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "xdpLinkCreate";
  int prog = ArgFd(info, 0, op);
  uint32_t ifindex = ArgU32(info, 1, op, "ifindex");
  uint32_t flags = ArgPresent(info, 2) ? ArgU32(info, 2, op, "flags") : 0;
  RequireKind(env, prog, FdKind::BpfProg, op);
  RequireIfindex(env, ifindex, op);
  struct bpf_link_create_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.sz = sizeof opts;
  opts.flags = flags;
  int fd = bpf_link_create(prog, static_cast<int>(ifindex), BPF_XDP, &opts);
  if (fd < 0) ThrowErrno(env, "xdpLinkCreate ifindex " + std::to_string(ifindex), errno);
  return Napi::Number::New(env, fd);
}

void LinkUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "linkUpdate";
  int link = ArgFd(info, 0, op);
  int prog = static_cast<int>(ArgInt(info, 1, op, "newProgFd"));
  RequireKind(env, link, FdKind::BpfLink, op);
  RequireKind(env, prog, FdKind::BpfProg, op);
  struct bpf_link_update_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.sz = sizeof opts;
  if (ArgPresent(info, 2)) {
    int old = static_cast<int>(ArgInt(info, 2, op, "oldProgFd"));
    RequireKind(env, old, FdKind::BpfProg, op);
    opts.flags = BPF_F_REPLACE;
    opts.old_prog_fd = old;
  }
  if (bpf_link_update(link, prog, &opts) != 0) ThrowErrno(env, op, errno);
}

void LinkDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int link = ArgFd(info, 0, "linkDetach");
  RequireKind(env, link, FdKind::BpfLink, "linkDetach");
  if (bpf_link_detach(link) != 0) ThrowErrno(env, "linkDetach", errno);
}

// With an expected program fd at `arg`: XDP_FLAGS_REPLACE semantics (fail unless it is attached).
// Filled in place: libbpf rejects opts whose padding is not zero, and a struct copy may not keep it.
static void ExpectedProgram(const Napi::CallbackInfo& info, size_t arg, const char* op, uint32_t* flags,
                            struct bpf_xdp_attach_opts* opts) {
  memset(opts, 0, sizeof *opts);
  opts->sz = sizeof *opts;
  if (ArgPresent(info, arg)) {
    int old = static_cast<int>(ArgInt(info, arg, op, "expectedProgFd"));
    RequireKind(info.Env(), old, FdKind::BpfProg, op);
    opts->old_prog_fd = old;
    *flags |= XDP_FLAGS_REPLACE;
  }
}

void XdpAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "xdpAttach";
  uint32_t ifindex = ArgU32(info, 0, op, "ifindex");
  int prog = static_cast<int>(ArgInt(info, 1, op, "progFd"));
  uint32_t flags = ArgPresent(info, 2) ? ArgU32(info, 2, op, "flags") : 0;
  RequireKind(env, prog, FdKind::BpfProg, op);
  if (ifindex == 0) ThrowErrno(env, "xdpAttach: ifindex 0", ENODEV);
  struct bpf_xdp_attach_opts opts;
  ExpectedProgram(info, 3, op, &flags, &opts);
  int err = bpf_xdp_attach(static_cast<int>(ifindex), prog, flags, &opts);
  if (err != 0) ThrowErrno(env, "xdpAttach ifindex " + std::to_string(ifindex), err);
}

void XdpDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "xdpDetach";
  uint32_t ifindex = ArgU32(info, 0, op, "ifindex");
  uint32_t flags = ArgPresent(info, 1) ? ArgU32(info, 1, op, "flags") : 0;
  if (ifindex == 0) ThrowErrno(env, "xdpDetach: ifindex 0", ENODEV);
  struct bpf_xdp_attach_opts opts;
  ExpectedProgram(info, 2, op, &flags, &opts);
  int err = bpf_xdp_detach(static_cast<int>(ifindex), flags, &opts);
  if (err != 0) ThrowErrno(env, "xdpDetach ifindex " + std::to_string(ifindex), err);
}

Napi::Value XdpQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t ifindex = ArgU32(info, 0, "xdpQuery", "ifindex");
  RequireIfindex(env, ifindex, "xdpQuery");
  struct bpf_xdp_query_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.sz = sizeof opts;
  int err = bpf_xdp_query(static_cast<int>(ifindex), 0, &opts);
  if (err != 0) ThrowErrno(env, "xdpQuery ifindex " + std::to_string(ifindex), err);
  const char* mode = "none";
  switch (opts.attach_mode) {
    case XDP_ATTACHED_DRV: mode = "native"; break;
    case XDP_ATTACHED_SKB: mode = "generic"; break;
    case XDP_ATTACHED_HW: mode = "offload"; break;
    case XDP_ATTACHED_MULTI: mode = "multi"; break;
    default: mode = "none"; break;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("progId", opts.prog_id);
  o.Set("mode", mode);
  o.Set("drvProgId", opts.drv_prog_id);
  o.Set("skbProgId", opts.skb_prog_id);
  o.Set("hwProgId", opts.hw_prog_id);
  return o;
}

}  // namespace

void InitXdp(Napi::Env env, Napi::Object exports) {
  exports.Set("xdpLinkCreate", Napi::Function::New(env, XdpLinkCreate, "xdpLinkCreate"));
  exports.Set("linkUpdate", Napi::Function::New(env, LinkUpdate, "linkUpdate"));
  exports.Set("linkDetach", Napi::Function::New(env, LinkDetach, "linkDetach"));
  exports.Set("xdpAttach", Napi::Function::New(env, XdpAttach, "xdpAttach"));
  exports.Set("xdpDetach", Napi::Function::New(env, XdpDetach, "xdpDetach"));
  exports.Set("xdpQuery", Napi::Function::New(env, XdpQuery, "xdpQuery"));
}

}  // namespace ss
