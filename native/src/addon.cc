// Module entry: one registration per concern.
#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ss::InstallLibbpfPrint();
  ss::InitObjects(env, exports);
  ss::InitMaps(env, exports);
  ss::InitPins(env, exports);
  ss::InitXdp(env, exports);
  ss::InitTc(env, exports);
  ss::InitRingbuf(env, exports);
  ss::InitTestRun(env, exports);
  ss::InitNetns(env, exports);
  ss::InitNetlink(env, exports);
  ss::InitProbes(env, exports);
  ss::InitSdNotify(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(slipstream, Init)
