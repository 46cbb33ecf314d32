// Netlink sockets owned by the addon: netns-aware open, group membership, and a
// receive path on uv_poll that reports ENOBUFS as an event instead of dying.
#include "common.h"
#include "loop.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace ss {

namespace {

constexpr size_t kRecvBuf = 256 * 1024;
constexpr int kMaxPerWake = 4096;  // datagrams per readable event: never starve the loop

class NetlinkWrap : public Napi::ObjectWrap<NetlinkWrap> {
 public:
  static Napi::FunctionReference* ctor;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkSocket",
                       {InstanceAccessor("fd", &NetlinkWrap::Fd, nullptr),
                        InstanceAccessor("portId", &NetlinkWrap::PortId, nullptr),
                        InstanceMethod("send", &NetlinkWrap::Send),
                        InstanceMethod("addMembership", &NetlinkWrap::AddMembership),
                        InstanceMethod("dropMembership", &NetlinkWrap::DropMembership),
                        InstanceMethod("setsockoptInt", &NetlinkWrap::SetsockoptInt),
                        InstanceMethod("close", &NetlinkWrap::Close), InstanceMethod("ref", &NetlinkWrap::RefLoop),
                        InstanceMethod("unref", &NetlinkWrap::UnrefLoop)});
  }

  NetlinkWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkWrap>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    const char* op = "netlinkOpen";
    if (!ArgPresent(info, 0) || !info[0].IsObject()) ThrowInvalid(env, "netlinkOpen: options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    int64_t protocol = OptInt(o, "protocol", -1, op);
    if (protocol < 0 || protocol > 31) ThrowInvalid(env, "netlinkOpen: protocol must be 0..31");
    Napi::Value onm = o.Get("onMessages"), ono = o.Get("onOverflow"), one = o.Get("onError");
    if (!onm.IsFunction()) ThrowInvalid(env, "netlinkOpen: onMessages must be a function");
    if (!ono.IsFunction()) ThrowInvalid(env, "netlinkOpen: onOverflow must be a function");
    if (!one.IsUndefined() && !one.IsNull() && !one.IsFunction())
      ThrowInvalid(env, "netlinkOpen: onError must be a function");
    std::vector<uint32_t> groups;
    Napi::Value gv = o.Get("groups");
    if (!gv.IsUndefined() && !gv.IsNull()) {
      if (!gv.IsArray()) ThrowInvalid(env, "netlinkOpen: groups must be an array of numbers");
      Napi::Array ga = gv.As<Napi::Array>();
      for (uint32_t i = 0; i < ga.Length(); i++) {
        Napi::Value g = ga.Get(i);
        if (!g.IsNumber()) ThrowInvalid(env, "netlinkOpen: groups must be an array of numbers");
        int64_t gi = g.As<Napi::Number>().Int64Value();
        if (gi <= 0 || gi > 1024) ThrowInvalid(env, "netlinkOpen: bad group " + std::to_string(gi));
        groups.push_back(static_cast<uint32_t>(gi));
      }
    }
    int64_t rcvbuf = OptInt(o, "rcvbuf", 0, op);
    if (rcvbuf < 0 || rcvbuf > INT32_MAX) ThrowInvalid(env, "netlinkOpen: rcvbuf out of range");
    std::string netns;
    Napi::Value nv = o.Get("netns");
    if (nv.IsString()) netns = nv.As<Napi::String>().Utf8Value();
    else if (!nv.IsUndefined() && !nv.IsNull()) ThrowInvalid(env, "netlinkOpen: netns must be a string");

    fd_ = OpenSocket(env, static_cast<int>(protocol), netns);
    try {
      Setup(env, groups, static_cast<int>(rcvbuf));
      poll_ = NewPoll(env, fd_, this, &NetlinkWrap::OnPoll);
    } catch (...) {
      close(fd_);
      fd_ = -1;
      throw;
    }
    on_messages_ = Napi::Persistent(onm.As<Napi::Function>());
    on_overflow_ = Napi::Persistent(ono.As<Napi::Function>());
    if (one.IsFunction()) on_error_ = Napi::Persistent(one.As<Napi::Function>());
    ctx_ = std::make_unique<Napi::AsyncContext>(env, "slipstream:netlink");
    buf_.resize(kRecvBuf);
    Ref();
  }

  ~NetlinkWrap() override { Release(); }

 private:
  Napi::Env env_;
  int fd_ = -1;
  uint32_t port_id_ = 0;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference on_messages_, on_overflow_, on_error_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
  std::vector<uint8_t> buf_;
  bool closed_ = false;
  bool in_callback_ = false;

  static int OpenSocket(Napi::Env env, int protocol, const std::string& netns) {
    int saved = -1;
    if (!netns.empty()) {
      int target = OpenNamedNetns(env, netns, "netlinkOpen");
      saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      if (saved < 0 || setns(target, CLONE_NEWNET) != 0) {
        int err = errno;
        close(target);
        if (saved >= 0) close(saved);
        ThrowErrno(env, "netlinkOpen: enter netns " + netns, err);
      }
      close(target);
    }
    // The socket belongs to the namespace it was created in, for its whole life.
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    int err = errno;
    if (saved >= 0) {
      int rc = setns(saved, CLONE_NEWNET);
      int rerr = errno;
      close(saved);
      if (rc != 0) {
        if (fd >= 0) close(fd);
        ThrowErrno(env, "netlinkOpen: restore netns", rerr);
      }
    }
    if (fd < 0) ThrowErrno(env, "netlinkOpen: socket", err);
    return fd;
  }

  void Setup(Napi::Env env, const std::vector<uint32_t>& groups, int rcvbuf) {
    if (rcvbuf > 0) {
      if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0 &&
          setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0)
        ThrowErrno(env, "netlinkOpen: SO_RCVBUF", errno);
    }
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    if (bind(fd_, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) ThrowErrno(env, "netlinkOpen: bind", errno);
    socklen_t len = sizeof sa;
    if (getsockname(fd_, reinterpret_cast<struct sockaddr*>(&sa), &len) != 0)
      ThrowErrno(env, "netlinkOpen: getsockname", errno);
    port_id_ = sa.nl_pid;
    for (uint32_t g : groups) {
      if (setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) != 0)
        ThrowErrno(env, "netlinkOpen: join group " + std::to_string(g), errno);
    }
  }

  void Release() {
    ClosePoll(poll_);
    poll_ = nullptr;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  int OpenFd(Napi::Env env, const char* op) {
    if (closed_ || fd_ < 0) throw CodedError(env, std::string(op) + ": netlink socket is closed", "EBADF", EBADF);
    return fd_;
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value PortId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_id_); }

  void Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = OpenFd(env, "send");
    Napi::Buffer<uint8_t> msg = ArgBuffer(info, 0, "netlink send", "msg");
    if (msg.Length() < sizeof(struct nlmsghdr)) ThrowInvalid(env, "netlink send: message shorter than nlmsghdr");
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    ssize_t n;
    do {
      n = sendto(fd, msg.Data(), msg.Length(), 0, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa);
    } while (n < 0 && errno == EINTR);
    if (n < 0) ThrowErrno(env, "netlink send", errno);
  }

  void Membership(const Napi::CallbackInfo& info, int opt, const char* op) {
    Napi::Env env = info.Env();
    int fd = OpenFd(env, op);
    uint32_t g = ArgU32(info, 0, op, "group");
    if (setsockopt(fd, SOL_NETLINK, opt, &g, sizeof g) != 0) ThrowErrno(env, std::string(op) + " " + std::to_string(g), errno);
  }
  void AddMembership(const Napi::CallbackInfo& info) { Membership(info, NETLINK_ADD_MEMBERSHIP, "addMembership"); }
  void DropMembership(const Napi::CallbackInfo& info) { Membership(info, NETLINK_DROP_MEMBERSHIP, "dropMembership"); }

  void SetsockoptInt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = OpenFd(env, "setsockoptInt");
    int level = static_cast<int>(ArgInt(info, 0, "setsockoptInt", "level"));
    int name = static_cast<int>(ArgInt(info, 1, "setsockoptInt", "optname"));
    int value = static_cast<int>(ArgInt(info, 2, "setsockoptInt", "value"));
    if (setsockopt(fd, level, name, &value, sizeof value) != 0) ThrowErrno(env, "setsockoptInt", errno);
  }

  void Close(const Napi::CallbackInfo& info) {
    if (closed_) return;
    closed_ = true;
    if (in_callback_) {
      // The receive loop stops at its next check and finishes the close.
      ClosePoll(poll_);
      poll_ = nullptr;
      return;
    }
    Release();
    on_messages_.Reset();
    on_overflow_.Reset();
    on_error_.Reset();
    Unref();
  }

  void RefLoop(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  void UnrefLoop(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }

  void Deliver(std::vector<Napi::Value>& batch) {
    if (batch.empty() || closed_) {
      batch.clear();
      return;
    }
    Napi::Array arr = Napi::Array::New(env_, batch.size());
    for (size_t i = 0; i < batch.size(); i++) arr.Set(static_cast<uint32_t>(i), batch[i]);
    batch.clear();
    CallBack(env_, on_messages_, *ctx_, {arr});
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    auto* self = static_cast<NetlinkWrap*>(h->data);
    if (self == nullptr || self->closed_) return;
    self->in_callback_ = true;
    FromLoop([self] {
      Napi::HandleScope scope(self->env_);
      self->Drain();
    });
    self->in_callback_ = false;
    if (self->closed_) {
      self->Release();
      self->on_messages_.Reset();
      self->on_overflow_.Reset();
      self->on_error_.Reset();
      self->Unref();
      return;
    }
    // libuv stops a poll handle that reported POLLERR (a pending ENOBUFS): re-arm it.
    if (status < 0 && self->poll_ != nullptr && self->fd_ >= 0)
      uv_poll_start(self->poll_, UV_READABLE, &NetlinkWrap::OnPoll);
  }

  void Drain() {
    std::vector<Napi::Value> batch;
    for (int i = 0; i < kMaxPerWake && !closed_; i++) {
      ssize_t n = recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        Deliver(batch);
        if (closed_) return;
        if (err == ENOBUFS) {
          CallBack(env_, on_overflow_, *ctx_, {});
          continue;
        }
        ReportError("netlink recv", err);
        if (err == EBADF || err == ENOTSOCK) {
          ClosePoll(poll_);  // nothing more will come from this fd
          poll_ = nullptr;
        }
        return;
      }
      if (static_cast<size_t>(n) > buf_.size()) {
        Deliver(batch);
        if (closed_) return;
        ReportError("netlink recv: datagram of " + std::to_string(n) + " bytes truncated", EMSGSIZE);
        continue;
      }
      batch.push_back(Napi::Buffer<uint8_t>::Copy(env_, buf_.data(), static_cast<size_t>(n)));
    }
    Deliver(batch);
  }

  void ReportError(const std::string& op, int err) {
    if (on_error_.IsEmpty()) return;
    Napi::Error e = ErrnoError(env_, op, err);
    CallBack(env_, on_error_, *ctx_, {e.Value()});
  }
};

Napi::FunctionReference* NetlinkWrap::ctor = nullptr;

Napi::Value NetlinkOpen(const Napi::CallbackInfo& info) {
  if (!ArgPresent(info, 0) || !info[0].IsObject()) ThrowInvalid(info.Env(), "netlinkOpen: options must be an object");
  return NetlinkWrap::ctor->New({info[0]});
}

}  // namespace

void InitNetlink(Napi::Env env, Napi::Object exports) {
  NetlinkWrap::ctor = new Napi::FunctionReference(Napi::Persistent(NetlinkWrap::Define(env)));
  exports.Set("netlinkOpen", Napi::Function::New(env, NetlinkOpen, "netlinkOpen"));
}

}  // namespace ss
