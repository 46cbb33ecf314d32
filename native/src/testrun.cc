// BPF_PROG_TEST_RUN, synchronous and on a libuv worker thread.
#include "common.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ss {

namespace {

struct RunSpec {
  int prog_fd = -1;
  bool own_prog_fd = false;
  std::vector<uint8_t> data;
  uint32_t repeat = 1;
  uint32_t flags = 0;
  uint32_t batch_size = 0;
  bool have_ctx = false;
  uint32_t ingress_ifindex = 0;
  uint32_t rx_queue_index = 0;
  int cpu = -1;
  uint32_t out_size = 0;
  int netns_fd = -1;  // run inside this netns (ifindexes resolve there)
};

struct RunResult {
  int err = 0;
  const char* stage = "testRun";
  uint32_t retval = 0;
  uint32_t duration = 0;
  std::vector<uint8_t> out;
};

RunSpec ParseSpec(const Napi::CallbackInfo& info, const char* op) {
  Napi::Env env = info.Env();
  RunSpec s;
  s.prog_fd = ArgFd(info, 0, op);
  RequireKind(env, s.prog_fd, FdKind::BpfProg, op);
  if (!ArgPresent(info, 1) || !info[1].IsObject()) ThrowInvalid(env, std::string(op) + ": options must be an object");
  Napi::Object o = info[1].As<Napi::Object>();
  Napi::Value d = o.Get("data");
  if (!d.IsBuffer()) ThrowInvalid(env, std::string(op) + ": options.data must be a Buffer");
  Napi::Buffer<uint8_t> b = d.As<Napi::Buffer<uint8_t>>();
  s.data.assign(b.Data(), b.Data() + b.Length());
  int64_t repeat = OptInt(o, "repeat", 1, op);
  int64_t flags = OptInt(o, "flags", 0, op);
  int64_t batch = OptInt(o, "batchSize", 0, op);
  int64_t ingress = OptInt(o, "ingressIfindex", -1, op);
  int64_t rxq = OptInt(o, "rxQueueIndex", -1, op);
  int64_t cpu = OptInt(o, "cpu", -1, op);
  int64_t out = OptInt(o, "dataOutSize", static_cast<int64_t>(s.data.size()) + 256, op);
  if (repeat < 0 || repeat > INT32_MAX) ThrowInvalid(env, std::string(op) + ": repeat out of range");
  if (flags < 0 || flags > UINT32_MAX || batch < 0 || batch > UINT32_MAX)
    ThrowInvalid(env, std::string(op) + ": flags/batchSize out of range");
  if (out < 0 || out > (64 << 20)) ThrowInvalid(env, std::string(op) + ": dataOutSize out of range");
  if (cpu < -1 || cpu >= CPU_SETSIZE) ThrowInvalid(env, std::string(op) + ": cpu out of range");
  s.repeat = static_cast<uint32_t>(repeat);
  s.flags = static_cast<uint32_t>(flags);
  s.batch_size = static_cast<uint32_t>(batch);
  s.cpu = static_cast<int>(cpu);
  s.out_size = static_cast<uint32_t>(out);
  if (ingress >= 0 || rxq >= 0) {
    if (ingress > UINT32_MAX || rxq > UINT32_MAX) ThrowInvalid(env, std::string(op) + ": ifindex out of range");
    s.have_ctx = true;
    s.ingress_ifindex = ingress < 0 ? 0 : static_cast<uint32_t>(ingress);
    s.rx_queue_index = rxq < 0 ? 0 : static_cast<uint32_t>(rxq);
  }
  Napi::Value ns = o.Get("netns");
  if (ns.IsString()) {
    std::string name = ns.As<Napi::String>().Utf8Value();
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      ThrowInvalid(env, std::string(op) + ": bad netns name");
    std::string path = "/var/run/netns/" + name;
    s.netns_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (s.netns_fd < 0) ThrowErrno(env, std::string(op) + ": netns " + name, errno);
  }
  return s;
}

void ReleaseSpec(RunSpec& s) {
  if (s.own_prog_fd && s.prog_fd >= 0) close(s.prog_fd);
  if (s.netns_fd >= 0) close(s.netns_fd);
  s.prog_fd = s.netns_fd = -1;
}

ino_t NsInode(int fd) {
  struct stat st;
  if (fd >= 0 ? fstat(fd, &st) != 0 : stat("/proc/thread-self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

// Runs in whatever thread calls it; switches that thread's netns and CPU affinity
// for the duration and restores both.
RunResult DoRun(const RunSpec& s) {
  RunResult r;
  int saved_ns = -1;
  if (s.netns_fd >= 0 && NsInode(s.netns_fd) != NsInode(-1)) {
    saved_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved_ns < 0 || setns(s.netns_fd, CLONE_NEWNET) != 0) {
      r.err = errno;
      r.stage = "testRun: enter netns";
      if (saved_ns >= 0) close(saved_ns);
      return r;
    }
  }
  cpu_set_t saved_cpus;
  bool pinned = false;
  if (s.cpu >= 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(s.cpu, &one);
    if (sched_getaffinity(0, sizeof saved_cpus, &saved_cpus) != 0 || sched_setaffinity(0, sizeof one, &one) != 0) {
      r.err = errno;
      r.stage = "testRun: pin to cpu";
    } else {
      pinned = true;
    }
  }
  if (r.err == 0) {
    bool live = (s.flags & BPF_F_TEST_XDP_LIVE_FRAMES) != 0;
    struct xdp_md ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.data_end = static_cast<uint32_t>(s.data.size());
    ctx.ingress_ifindex = s.ingress_ifindex;
    ctx.rx_queue_index = s.rx_queue_index;
    if (!live) r.out.resize(s.out_size);
    struct bpf_test_run_opts o;
    memset(&o, 0, sizeof o);
    o.sz = sizeof o;
    o.data_in = s.data.data();
    o.data_size_in = static_cast<uint32_t>(s.data.size());
    if (!live && s.out_size > 0) {
      o.data_out = r.out.data();
      o.data_size_out = s.out_size;
    }
    if (s.have_ctx) {
      o.ctx_in = &ctx;
      o.ctx_size_in = sizeof ctx;
    }
    o.repeat = static_cast<int>(s.repeat);
    o.flags = s.flags;
    o.batch_size = s.batch_size;
    if (bpf_prog_test_run_opts(s.prog_fd, &o) != 0) {
      r.err = errno;
      r.stage = "testRun";
    } else {
      r.retval = o.retval;
      r.duration = o.duration;
      r.out.resize(live ? 0 : o.data_size_out);
    }
  }
  if (pinned) sched_setaffinity(0, sizeof saved_cpus, &saved_cpus);
  if (saved_ns >= 0) {
    // Failing to go back would leave this thread in the lab namespace for good.
    if (setns(saved_ns, CLONE_NEWNET) != 0 && r.err == 0) {
      r.err = errno;
      r.stage = "testRun: restore netns";
    }
    close(saved_ns);
  }
  return r;
}

Napi::Value ResultObject(Napi::Env env, const RunResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("retval", r.retval);
  o.Set("durationNs", r.duration);
  o.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, r.out.data(), r.out.size()));
  return o;
}

Napi::Value TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RunSpec s = ParseSpec(info, "testRun");
  RunResult r = DoRun(s);
  ReleaseSpec(s);
  if (r.err != 0) ThrowErrno(env, r.stage, r.err);
  return ResultObject(env, r);
}

class TestRunWorker : public Napi::AsyncWorker {
 public:
  TestRunWorker(Napi::Env env, RunSpec spec)
      : Napi::AsyncWorker(env, "slipstream:testRun"), deferred_(Napi::Promise::Deferred::New(env)), spec_(std::move(spec)) {}
  ~TestRunWorker() override { ReleaseSpec(spec_); }

  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { result_ = DoRun(spec_); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (result_.err != 0) deferred_.Reject(ErrnoError(env, result_.stage, result_.err).Value());
    else deferred_.Resolve(ResultObject(env, result_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  RunSpec spec_;
  RunResult result_;
};

Napi::Value TestRunAsyncImpl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RunSpec s = ParseSpec(info, "testRunAsync");
  // The worker must not depend on fds the caller may close while it runs.
  int fd = fcntl(s.prog_fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) {
    ReleaseSpec(s);
    ThrowErrno(env, "testRunAsync: dup", errno);
  }
  s.prog_fd = fd;
  s.own_prog_fd = true;
  // Without an explicit netns, run where the caller stands now (inNetns included).
  if (s.netns_fd < 0) {
    s.netns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (s.netns_fd < 0) {
      int err = errno;
      ReleaseSpec(s);
      ThrowErrno(env, "testRunAsync: open netns", err);
    }
  }
  auto* w = new TestRunWorker(env, std::move(s));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// Bad input rejects the promise too, so callers need one error path.
Napi::Value TestRunAsync(const Napi::CallbackInfo& info) {
  try {
    return TestRunAsyncImpl(info);
  } catch (const Napi::Error& e) {
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(info.Env());
    d.Reject(e.Value());
    return d.Promise();
  }
}

}  // namespace

void InitTestRun(Napi::Env env, Napi::Object exports) {
  exports.Set("testRun", Napi::Function::New(env, TestRun, "testRun"));
  exports.Set("testRunAsync", Napi::Function::New(env, TestRunAsync, "testRunAsync"));
}

}  // namespace ss
