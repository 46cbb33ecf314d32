#include "loop.h"

#include "common.h"

namespace ss {

uv_loop_t* LoopOf(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    throw CodedError(env, "no libuv event loop", "EINVAL", 0);
  return loop;
}

void CallBack(Napi::Env env, Napi::FunctionReference& fn, Napi::AsyncContext& ctx,
              const std::initializer_list<napi_value>& args) {
  if (fn.IsEmpty()) return;
  try {
    fn.MakeCallback(env.Global(), args, ctx);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

uv_poll_t* NewPoll(Napi::Env env, int fd, void* data, uv_poll_cb cb) {
  uv_loop_t* loop = LoopOf(env);
  uv_poll_t* p = new uv_poll_t;
  int rc = uv_poll_init(loop, p, fd);
  if (rc != 0) {
    delete p;
    throw ErrnoError(env, "uv_poll_init", -rc);
  }
  p->data = data;
  rc = uv_poll_start(p, UV_READABLE, cb);
  if (rc != 0) {
    ClosePoll(p);
    throw ErrnoError(env, "uv_poll_start", -rc);
  }
  return p;
}

void ClosePoll(uv_poll_t* p) {
  if (p == nullptr) return;
  p->data = nullptr;
  uv_poll_stop(p);
  uv_close(reinterpret_cast<uv_handle_t*>(p), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
}

}  // namespace ss
