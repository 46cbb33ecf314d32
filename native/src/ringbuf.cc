// BPF ring buffer consumer driven by the Node event loop: no threads, no timers.
#include "common.h"
#include "loop.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace ss {

namespace {

class RingBufferWrap : public Napi::ObjectWrap<RingBufferWrap> {
 public:
  static Napi::FunctionReference* ctor;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {InstanceMethod("close", &RingBufferWrap::Close), InstanceMethod("ref", &RingBufferWrap::RefLoop),
                        InstanceMethod("unref", &RingBufferWrap::UnrefLoop)});
  }

  RingBufferWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBufferWrap>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    const char* op = "ringBufferOpen";
    int fd = ArgFd(info, 0, op);
    Napi::Function cb = ArgFunction(info, 1, op, "onRecord");
    RequireKind(env, fd, FdKind::BpfMap, op);
    struct bpf_map_info mi;
    memset(&mi, 0, sizeof mi);
    uint32_t len = sizeof mi;
    if (bpf_obj_get_info_by_fd(fd, &mi, &len) != 0) ThrowErrno(env, op, errno);
    if (mi.type != BPF_MAP_TYPE_RINGBUF) ThrowInvalid(env, "ringBufferOpen: map is not a RINGBUF");
    rb_ = ring_buffer__new(fd, &RingBufferWrap::Sample, this, nullptr);
    if (rb_ == nullptr) ThrowErrno(env, op, errno);
    try {
      poll_ = NewPoll(env, ring_buffer__epoll_fd(rb_), this, &RingBufferWrap::OnPoll);
    } catch (...) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
      throw;
    }
    cb_ = Napi::Persistent(cb);
    ctx_ = std::make_unique<Napi::AsyncContext>(env, "slipstream:ringbuf");
    Ref();  // stays alive while it watches, like a Node handle
  }

  ~RingBufferWrap() override { Release(); }

 private:
  Napi::Env env_;
  struct ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference cb_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
  bool in_consume_ = false;
  bool closed_ = false;

  void Release() {
    ClosePoll(poll_);
    poll_ = nullptr;
    if (rb_ != nullptr && !in_consume_) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
    }
  }

  static int Sample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBufferWrap*>(ctx);
    if (self->closed_) return -1;  // stop consuming: close() was called from a callback
    // Called from libbpf's C code: no exception may pass through it.
    bool ok = false;
    FromLoop([&] {
      Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(self->env_, static_cast<uint8_t*>(data), size);
      CallBack(self->env_, self->cb_, *self->ctx_, {buf});
      ok = true;
    });
    return !ok || self->closed_ ? -1 : 0;
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    auto* self = static_cast<RingBufferWrap*>(h->data);
    if (self == nullptr || self->closed_) return;
    self->in_consume_ = true;
    FromLoop([self] {
      Napi::HandleScope scope(self->env_);
      ring_buffer__consume(self->rb_);
    });
    self->in_consume_ = false;
    if (self->closed_) {
      // close() ran inside a callback: finish it now that libbpf is done with rb_.
      self->Release();
      self->Unref();
      return;
    }
    if (status < 0) uv_poll_start(self->poll_, UV_READABLE, &RingBufferWrap::OnPoll);
  }

  void Close(const Napi::CallbackInfo& info) {
    if (closed_) return;
    closed_ = true;
    cb_.Reset();
    if (in_consume_) return;  // OnPoll finishes the close
    Release();
    Unref();
  }

  void RefLoop(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  void UnrefLoop(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
};

Napi::FunctionReference* RingBufferWrap::ctor = nullptr;

Napi::Value RingBufferOpen(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "ringBufferOpen");
  Napi::Function cb = ArgFunction(info, 1, "ringBufferOpen", "onRecord");
  return RingBufferWrap::ctor->New({Napi::Number::New(info.Env(), fd), cb});
}

}  // namespace

void InitRingbuf(Napi::Env env, Napi::Object exports) {
  RingBufferWrap::ctor = new Napi::FunctionReference(Napi::Persistent(RingBufferWrap::Define(env)));
  exports.Set("ringBufferOpen", Napi::Function::New(env, RingBufferOpen, "ringBufferOpen"));
}

}  // namespace ss
