// Shared helpers of the slipstream addon: errors, argument checks, fd kinds.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ss {

// Every failure surfaces as a JS Error with .errno (positive) and .code.
Napi::Error ErrnoError(Napi::Env env, const std::string& op, int err);
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& op, int err);
// Bad argument: a TypeError-like Error with errno EINVAL and code 'EINVAL'.
[[noreturn]] void ThrowInvalid(Napi::Env env, const std::string& msg);
// A non-system failure with a custom code (errno 0 unless given).
Napi::Error CodedError(Napi::Env env, const std::string& msg, const char* code, int err);
std::string ErrnoName(int err);

// libbpf's log goes through a capture buffer so load failures can return the verifier log.
void InstallLibbpfPrint();
void LibbpfLogReset();
std::string LibbpfLogTake();

// Argument helpers: throw EINVAL errors naming the operation.
int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* op);
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what);
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what);
Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what);
Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what);
bool ArgPresent(const Napi::CallbackInfo& info, size_t i);
// Reads an optional numeric property; returns def when absent or undefined.
int64_t OptInt(Napi::Object o, const char* key, int64_t def, const char* op);

// What a file descriptor refers to, from /proc/self/fd.
enum class FdKind { Closed, BpfMap, BpfProg, BpfLink, BpfOther, Other };
FdKind KindOfFd(int fd);
// Throws EBADF for closed fds and EINVAL when fd is not of the wanted kind.
void RequireKind(Napi::Env env, int fd, FdKind want, const char* op);

// Opens /var/run/netns/<name> (O_CLOEXEC); throws ENOENT and friends.
int OpenNamedNetns(Napi::Env env, const std::string& name, const char* op);

// Registration of each concern.
void InitObjects(Napi::Env env, Napi::Object exports);
void InitMaps(Napi::Env env, Napi::Object exports);
void InitPins(Napi::Env env, Napi::Object exports);
void InitXdp(Napi::Env env, Napi::Object exports);
void InitTc(Napi::Env env, Napi::Object exports);
void InitRingbuf(Napi::Env env, Napi::Object exports);
void InitTestRun(Napi::Env env, Napi::Object exports);
void InitNetns(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);
void InitProbes(Napi::Env env, Napi::Object exports);
void InitSdNotify(Napi::Env env, Napi::Object exports);

}  // namespace ss
