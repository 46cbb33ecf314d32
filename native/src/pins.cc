// bpffs pinning.
#include "common.h"

#include <bpf/bpf.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

namespace ss {

namespace {

void Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "pin");
  std::string path = ArgString(info, 1, "pin", "path");
  FdKind k = KindOfFd(fd);
  if (k == FdKind::Closed) ThrowErrno(env, "pin " + path + ": fd " + std::to_string(fd), EBADF);
  if (k == FdKind::Other) ThrowInvalid(env, "pin " + path + ": fd " + std::to_string(fd) + " is not a BPF object");
  if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(env, "pin " + path, errno);
}

constexpr long kBpfFsMagic = 0xcafe4a11;

void Unpin(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "unpin", "path");
  // unlink(2) of an arbitrary path would be a footgun: only remove bpffs entries.
  struct statfs fs;
  if (statfs(path.c_str(), &fs) != 0) {
    if (errno == ENOENT) return;
    ThrowErrno(info.Env(), "unpin " + path, errno);
  }
  if (fs.f_type != kBpfFsMagic) ThrowInvalid(info.Env(), "unpin " + path + ": not on bpffs");
  if (unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno(info.Env(), "unpin " + path, errno);
}

Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "objGet", "path");
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowErrno(info.Env(), "objGet " + path, errno);
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void InitPins(Napi::Env env, Napi::Object exports) {
  exports.Set("pin", Napi::Function::New(env, Pin, "pin"));
  exports.Set("unpin", Napi::Function::New(env, Unpin, "unpin"));
  exports.Set("objGet", Napi::Function::New(env, ObjGet, "objGet"));
}

}  // namespace ss
