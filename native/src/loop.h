// Calling back into JS from libuv callbacks on the main thread.
#pragma once

#include <napi.h>
#include <uv.h>

namespace ss {

uv_loop_t* LoopOf(Napi::Env env);

// Calls fn with args inside the async context (microtasks run afterwards). An exception
// thrown by fn is reported as an uncaught exception, as Node does for event callbacks.
void CallBack(Napi::Env env, Napi::FunctionReference& fn, Napi::AsyncContext& ctx,
              const std::initializer_list<napi_value>& args);

// Runs a libuv callback's body. A C++ exception must not leave a libuv callback (it would
// terminate the process); N-API calls throw when JS cannot run, e.g. while the environment
// is torn down at exit with a handle still readable. There is no one to tell then.
template <typename F>
void FromLoop(F&& body) {
  try {
    body();
  } catch (...) {
  }
}

// uv_poll_t allocated on the heap and freed by uv_close.
uv_poll_t* NewPoll(Napi::Env env, int fd, void* data, uv_poll_cb cb);
void ClosePoll(uv_poll_t* p);

}  // namespace ss
