// tc egress attachment: tcx bpf_link when the kernel has it, clsact otherwise.
#include "common.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ss {

namespace {

// libbpf 1.1's headers predate tcx.
constexpr int kBpfTcxEgress = 47;

Napi::Object Attachment(Napi::Env env, const char* kind, int link_fd, uint32_t ifindex, uint32_t handle,
                        uint32_t priority) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", kind);
  o.Set("linkFd", link_fd);
  o.Set("ifindex", ifindex);
  o.Set("handle", handle);
  o.Set("priority", priority);
  return o;
}

int AttachTcx(int prog, uint32_t ifindex) {
  struct bpf_link_create_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.sz = sizeof opts;
  int fd = bpf_link_create(prog, static_cast<int>(ifindex), static_cast<enum bpf_attach_type>(kBpfTcxEgress), &opts);
  return fd < 0 ? -errno : fd;
}

int AttachClsact(int prog, uint32_t ifindex, uint32_t* handle, uint32_t* priority) {
  struct bpf_tc_hook hook;
  memset(&hook, 0, sizeof hook);
  hook.sz = sizeof hook;
  hook.ifindex = static_cast<int>(ifindex);
  hook.attach_point = BPF_TC_EGRESS;
  int err = bpf_tc_hook_create(&hook);
  if (err != 0 && err != -EEXIST) return err;
  struct bpf_tc_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.sz = sizeof opts;
  opts.prog_fd = prog;
  err = bpf_tc_attach(&hook, &opts);
  if (err != 0) return err;
  *handle = opts.handle;
  *priority = opts.priority;
  return 0;
}

Napi::Value TcAttachEgress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "tcAttachEgress";
  uint32_t ifindex = ArgU32(info, 0, op, "ifindex");
  int prog = static_cast<int>(ArgInt(info, 1, op, "progFd"));
  std::string mode = ArgPresent(info, 2) ? ArgString(info, 2, op, "mode") : "auto";
  if (mode != "auto" && mode != "tcx" && mode != "clsact") ThrowInvalid(env, "tcAttachEgress: mode must be auto, tcx or clsact");
  RequireKind(env, prog, FdKind::BpfProg, op);
  if (ifindex == 0) ThrowErrno(env, "tcAttachEgress: ifindex 0", ENODEV);
  int tcx_err = 0;
  if (mode != "clsact") {
    int fd = AttachTcx(prog, ifindex);
    if (fd >= 0) return Attachment(env, "tcx", fd, ifindex, 0, 0);
    tcx_err = -fd;
    if (mode == "tcx") ThrowErrno(env, "tcAttachEgress (tcx) ifindex " + std::to_string(ifindex), tcx_err);
  }
  uint32_t handle = 0, priority = 0;
  int err = AttachClsact(prog, ifindex, &handle, &priority);
  if (err != 0) {
    std::string what = "tcAttachEgress (clsact) ifindex " + std::to_string(ifindex);
    if (tcx_err) what += ", after tcx failed with " + ErrnoName(tcx_err);
    ThrowErrno(env, what, err);
  }
  return Attachment(env, "clsact", -1, ifindex, handle, priority);
}

void TcDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "tcDetach";
  if (!ArgPresent(info, 0) || !info[0].IsObject()) ThrowInvalid(env, "tcDetach: attachment must be an object");
  Napi::Object att = info[0].As<Napi::Object>();
  Napi::Value kindv = att.Get("kind");
  std::string kind = kindv.IsString() ? kindv.As<Napi::String>().Utf8Value() : "";
  int64_t ifindex = OptInt(att, "ifindex", 0, op);
  if (kind == "tcx") {
    int64_t fd = OptInt(att, "linkFd", -1, op);
    if (fd < 0 || fd > INT32_MAX) ThrowErrno(env, "tcDetach: linkFd", EBADF);
    RequireKind(env, static_cast<int>(fd), FdKind::BpfLink, op);
    int rc = bpf_link_detach(static_cast<int>(fd));
    int err = rc != 0 ? errno : 0;
    close(static_cast<int>(fd));
    // A link whose device vanished is already detached.
    if (err != 0 && err != ENOLINK && err != ENODEV) ThrowErrno(env, op, err);
    return;
  }
  if (kind != "clsact") ThrowInvalid(env, "tcDetach: kind must be 'tcx' or 'clsact'");
  if (ifindex <= 0 || ifindex > INT32_MAX) ThrowErrno(env, "tcDetach: ifindex", ENODEV);
  struct bpf_tc_hook hook;
  memset(&hook, 0, sizeof hook);
  hook.sz = sizeof hook;
  hook.ifindex = static_cast<int>(ifindex);
  hook.attach_point = BPF_TC_EGRESS;
  struct bpf_tc_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.sz = sizeof opts;
  opts.handle = static_cast<uint32_t>(OptInt(att, "handle", 0, op));
  opts.priority = static_cast<uint32_t>(OptInt(att, "priority", 0, op));
  int err = bpf_tc_detach(&hook, &opts);
  if (err != 0) ThrowErrno(env, "tcDetach (clsact) ifindex " + std::to_string(ifindex), err);
}

}  // namespace

void InitTc(Napi::Env env, Napi::Object exports) {
  exports.Set("tcAttachEgress", Napi::Function::New(env, TcAttachEgress, "tcAttachEgress"));
  exports.Set("tcDetach", Napi::Function::New(env, TcDetach, "tcDetach"));
}

}  // namespace ss
