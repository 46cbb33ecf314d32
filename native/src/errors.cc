// Error construction and the libbpf log capture used for verifier rejections.
#include "common.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ss {

std::string ErrnoName(int err) {
  if (err == 524) return "ENOTSUPP";  // kernel-internal, leaks out of some bpf paths
  const char* n = strerrorname_np(err);
  if (n != nullptr) return n;
  return "E" + std::to_string(err);
}

static std::string Describe(int err) {
  if (err == 524) return "Operation not supported (ENOTSUPP)";
  return strerror(err);
}

Napi::Error CodedError(Napi::Env env, const std::string& msg, const char* code, int err) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, code));
  return e;
}

Napi::Error ErrnoError(Napi::Env env, const std::string& op, int err) {
  if (err < 0) err = -err;
  std::string code = ErrnoName(err);
  return CodedError(env, op + ": " + Describe(err) + " (" + code + ")", code.c_str(), err);
}

void ThrowErrno(Napi::Env env, const std::string& op, int err) { throw ErrnoError(env, op, err); }

void ThrowInvalid(Napi::Env env, const std::string& msg) {
  throw CodedError(env, msg, "EINVAL", EINVAL);
}

// libbpf prints through one global callback. Warnings are kept in a buffer that
// load() reads back; SLIPSTREAM_LIBBPF_DEBUG=1 also echoes everything to stderr.
static std::mutex g_log_mu;
static std::string g_log;
static bool g_echo = false;

static int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list ap) {
  char stackbuf[4096];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(stackbuf, sizeof stackbuf, fmt, ap2);
  va_end(ap2);
  std::string line;
  if (n < 0) return 0;
  if (static_cast<size_t>(n) < sizeof stackbuf) {
    line.assign(stackbuf, n);
  } else {
    line.resize(n + 1);
    vsnprintf(&line[0], n + 1, fmt, ap);
    line.resize(n);
  }
  if (g_echo) fputs(line.c_str(), stderr);
  if (level == LIBBPF_DEBUG) return 0;
  std::lock_guard<std::mutex> lock(g_log_mu);
  if (g_log.size() < (64u << 20)) g_log += line;
  return 0;
}

void InstallLibbpfPrint() {
  const char* e = getenv("SLIPSTREAM_LIBBPF_DEBUG");
  g_echo = e != nullptr && *e != '\0' && strcmp(e, "0") != 0;
  libbpf_set_print(LibbpfPrint);
}

void LibbpfLogReset() {
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_log.clear();
}

std::string LibbpfLogTake() {
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::string out;
  out.swap(g_log);
  return out;
}

}  // namespace ss
