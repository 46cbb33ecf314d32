// Argument validation and fd classification shared by every concern.
#include "common.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>

namespace ss {

bool ArgPresent(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull();
}

static std::string Where(const char* op, const char* what) { return std::string(op) + ": " + what; }

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what) {
  if (info.Length() <= i) ThrowInvalid(info.Env(), Where(op, what) + " is required");
  Napi::Value v = info[i];
  if (v.IsBigInt()) {
    bool lossless = false;
    int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) ThrowInvalid(info.Env(), Where(op, what) + " is out of range");
    return x;
  }
  if (!v.IsNumber()) ThrowInvalid(info.Env(), Where(op, what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
    ThrowInvalid(info.Env(), Where(op, what) + " must be an integer");
  return static_cast<int64_t>(d);
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what) {
  int64_t x = ArgInt(info, i, op, what);
  if (x < 0 || x > UINT32_MAX) ThrowInvalid(info.Env(), Where(op, what) + " must fit in 32 unsigned bits");
  return static_cast<uint32_t>(x);
}

int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* op) {
  int64_t x = ArgInt(info, i, op, "fd");
  if (x < 0 || x > INT_MAX) ThrowErrno(info.Env(), std::string(op) + ": fd " + std::to_string(x), EBADF);
  return static_cast<int>(x);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) ThrowInvalid(info.Env(), Where(op, what) + " must be a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) ThrowInvalid(info.Env(), Where(op, what) + " must not contain NUL");
  return s;
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer()) ThrowInvalid(info.Env(), Where(op, what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what) {
  if (info.Length() <= i || !info[i].IsFunction()) ThrowInvalid(info.Env(), Where(op, what) + " must be a function");
  return info[i].As<Napi::Function>();
}

int64_t OptInt(Napi::Object o, const char* key, int64_t def, const char* op) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (v.IsBigInt()) {
    bool lossless = false;
    int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (lossless) return x;
  } else if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 9007199254740991.0) return static_cast<int64_t>(d);
  }
  ThrowInvalid(o.Env(), std::string(op) + ": option " + key + " must be an integer");
}

FdKind KindOfFd(int fd) {
  if (fd < 0) return FdKind::Closed;
  char path[64];
  char target[128];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n < 0) return FdKind::Closed;
  target[n] = '\0';
  if (strcmp(target, "anon_inode:bpf-map") == 0) return FdKind::BpfMap;
  if (strcmp(target, "anon_inode:bpf-prog") == 0) return FdKind::BpfProg;
  // bpf_link_create names the file "bpf_link"; BPF_OBJ_GET of a pinned link, "bpf-link".
  if (strcmp(target, "anon_inode:bpf_link") == 0 || strcmp(target, "anon_inode:bpf-link") == 0) return FdKind::BpfLink;
  if (strncmp(target, "anon_inode:bpf", 14) == 0) return FdKind::BpfOther;
  return FdKind::Other;
}

static const char* KindName(FdKind k) {
  switch (k) {
    case FdKind::BpfMap: return "a BPF map";
    case FdKind::BpfProg: return "a BPF program";
    case FdKind::BpfLink: return "a BPF link";
    default: return "a BPF object";
  }
}

void RequireKind(Napi::Env env, int fd, FdKind want, const char* op) {
  FdKind k = KindOfFd(fd);
  if (k == FdKind::Closed) ThrowErrno(env, std::string(op) + ": fd " + std::to_string(fd), EBADF);
  if (k != want) {
    throw CodedError(env, std::string(op) + ": fd " + std::to_string(fd) + " is not " + KindName(want), "EINVAL",
                     EINVAL);
  }
}

}  // namespace ss
