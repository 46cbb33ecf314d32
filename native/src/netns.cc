// Network namespaces for the calling (main) thread, interface lookups, ethtool.
#include "common.h"

#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ss {

int OpenNamedNetns(Napi::Env env, const std::string& name, const char* op) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    ThrowInvalid(env, std::string(op) + ": bad netns name '" + name + "'");
  std::string path = "/var/run/netns/" + name;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, std::string(op) + ": netns " + name, errno);
  return fd;
}

namespace {

class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Napi::Value InNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "inNetns", "name");
  Napi::Function fn = ArgFunction(info, 1, "inNetns", "fn");
  FdGuard target(OpenNamedNetns(env, name, "inNetns"));
  FdGuard saved(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (saved.get() < 0) ThrowErrno(env, "inNetns: open own netns", errno);
  if (setns(target.get(), CLONE_NEWNET) != 0) ThrowErrno(env, "inNetns: setns " + name, errno);
  auto restore = [&]() -> int { return setns(saved.get(), CLONE_NEWNET) == 0 ? 0 : errno; };
  Napi::Value result;
  try {
    result = fn.Call(env.Undefined(), {});
  } catch (...) {
    int err = restore();
    if (err != 0) ThrowErrno(env, "inNetns: restore netns after " + name, err);
    throw;
  }
  int err = restore();
  if (err != 0) ThrowErrno(env, "inNetns: restore netns after " + name, err);
  return result;
}

void EnterNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "enterNetns", "name");
  FdGuard target(OpenNamedNetns(env, name, "enterNetns"));
  if (setns(target.get(), CLONE_NEWNET) != 0) ThrowErrno(env, "enterNetns: setns " + name, errno);
}

Napi::Value CurrentNetnsInode(const Napi::CallbackInfo& info) {
  struct stat st;
  if (stat("/proc/thread-self/ns/net", &st) != 0) ThrowErrno(info.Env(), "currentNetnsInode", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(st.st_ino));
}

Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "ifNameToIndex", "name");
  if (name.empty() || name.size() >= IF_NAMESIZE) return Napi::Number::New(info.Env(), 0);
  return Napi::Number::New(info.Env(), if_nametoindex(name.c_str()));
}

Napi::Value EthtoolDriver(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "ethtoolDriver", "ifname");
  if (name.empty() || name.size() >= IFNAMSIZ) ThrowErrno(env, "ethtoolDriver " + name, ENODEV);
  FdGuard sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) ThrowErrno(env, "ethtoolDriver: socket", errno);
  struct ethtool_drvinfo drv;
  memset(&drv, 0, sizeof drv);
  drv.cmd = ETHTOOL_GDRVINFO;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.c_str(), name.size());
  ifr.ifr_data = reinterpret_cast<char*>(&drv);
  if (ioctl(sock.get(), SIOCETHTOOL, &ifr) != 0) ThrowErrno(env, "ethtoolDriver " + name, errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("driver", std::string(drv.driver, strnlen(drv.driver, sizeof drv.driver)));
  o.Set("busInfo", std::string(drv.bus_info, strnlen(drv.bus_info, sizeof drv.bus_info)));
  return o;
}

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("inNetns", Napi::Function::New(env, InNetns, "inNetns"));
  exports.Set("enterNetns", Napi::Function::New(env, EnterNetns, "enterNetns"));
  exports.Set("currentNetnsInode", Napi::Function::New(env, CurrentNetnsInode, "currentNetnsInode"));
  exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndex, "ifNameToIndex"));
  exports.Set("ethtoolDriver", Napi::Function::New(env, EthtoolDriver, "ethtoolDriver"));
}

}  // namespace ss
