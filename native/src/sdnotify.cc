// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET.
#include "common.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ss {

namespace {

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string state = ArgString(info, 0, "sdNotify", "state");
  const char* path = getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return Napi::Boolean::New(env, false);
  size_t len = strlen(path);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path)
    ThrowInvalid(env, std::string("sdNotify: unsupported NOTIFY_SOCKET '") + path + "'");
  memcpy(sa.sun_path, path, len);
  socklen_t salen = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + len);
  if (path[0] == '@') sa.sun_path[0] = '\0';  // abstract namespace: no trailing NUL counted
  else salen += 1;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "sdNotify: socket", errno);
  ssize_t n;
  do {
    n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&sa), salen);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) ThrowErrno(env, std::string("sdNotify ") + path, err);
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitSdNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
}

}  // namespace ss
