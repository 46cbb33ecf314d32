// BPF object files: open, set .rodata knobs through BTF, reuse maps, load, list.
#include "common.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include <cerrno>
#include <cmath>
#include <cstring>

namespace ss {

namespace {

// Pulls the verifier log libbpf printed between its BEGIN/END markers.
std::string ExtractVerifierLog(const std::string& log) {
  static const char* kBegin = "-- BEGIN PROG LOAD LOG --\n";
  static const char* kEnd = "-- END PROG LOAD LOG --";
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t b = log.find(kBegin, pos);
    if (b == std::string::npos) break;
    b += strlen(kBegin);
    size_t e = log.find(kEnd, b);
    if (e == std::string::npos) e = log.size();
    out += log.substr(b, e - b);
    pos = e;
  }
  return out;
}

Napi::Object ProgInfoObject(Napi::Env env, const std::string& name, int fd, uint32_t id, uint32_t type) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", name);
  o.Set("fd", fd);
  o.Set("id", id);
  o.Set("type", type);
  return o;
}

Napi::Object MapInfoObject(Napi::Env env, const std::string& name, int fd, uint32_t id, uint32_t type,
                           uint32_t key, uint32_t value, uint32_t max) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", name);
  o.Set("fd", fd);
  o.Set("id", id);
  o.Set("type", type);
  o.Set("keySize", key);
  o.Set("valueSize", value);
  o.Set("maxEntries", max);
  return o;
}

uint32_t IdOfFd(int fd) {
  if (fd < 0) return 0;
  // bpf_map_info and bpf_prog_info both start with type, id.
  struct bpf_prog_info info;
  memset(&info, 0, sizeof info);
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return 0;
  return info.id;
}

class BpfObjectWrap : public Napi::ObjectWrap<BpfObjectWrap> {
 public:
  static Napi::FunctionReference* ctor;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceAccessor("path", &BpfObjectWrap::Path, nullptr),
                           InstanceMethod("setRodata", &BpfObjectWrap::SetRodata),
                           InstanceMethod("reuseMap", &BpfObjectWrap::ReuseMap),
                           InstanceMethod("setMaxEntries", &BpfObjectWrap::SetMaxEntries),
                           InstanceMethod("load", &BpfObjectWrap::Load),
                           InstanceMethod("programs", &BpfObjectWrap::Programs),
                           InstanceMethod("program", &BpfObjectWrap::Program),
                           InstanceMethod("maps", &BpfObjectWrap::Maps),
                           InstanceMethod("map", &BpfObjectWrap::Map),
                           InstanceMethod("close", &BpfObjectWrap::Close),
                       });
  }

  BpfObjectWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObjectWrap>(info) {
    Napi::Env env = info.Env();
    path_ = ArgString(info, 0, "openObject", "path");
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) ThrowErrno(env, "openObject " + path_, errno);
    if (!S_ISREG(st.st_mode)) ThrowErrno(env, "openObject " + path_, EISDIR);
    LibbpfLogReset();
    struct bpf_object* obj = bpf_object__open_file(path_.c_str(), nullptr);
    int err = libbpf_get_error(obj);
    if (err != 0 || obj == nullptr) {
      std::string log = LibbpfLogTake();
      Napi::Error e = ErrnoError(env, "openObject " + path_, err ? err : EINVAL);
      if (!log.empty()) e.Set("libbpfLog", log);
      throw e;
    }
    obj_ = obj;
  }

  ~BpfObjectWrap() override {
    if (obj_ != nullptr) bpf_object__close(obj_);
  }

 private:
  struct bpf_object* obj_ = nullptr;
  std::string path_;
  bool loaded_ = false;
  bool load_failed_ = false;

  struct bpf_object* Obj(Napi::Env env, const char* op) {
    if (obj_ == nullptr) throw CodedError(env, std::string(op) + ": object " + path_ + " is closed", "EBADF", EBADF);
    return obj_;
  }

  void RequireUnloaded(Napi::Env env, const char* op) {
    Obj(env, op);
    if (loaded_ || load_failed_)
      throw CodedError(env, std::string(op) + ": object " + path_ + " is already loaded", "EBUSY", EBUSY);
  }

  struct bpf_map* FindMap(Napi::Env env, const std::string& name, const char* op) {
    struct bpf_map* m = bpf_object__find_map_by_name(Obj(env, op), name.c_str());
    if (m == nullptr) ThrowErrno(env, std::string(op) + ": no map '" + name + "' in " + path_, ENOENT);
    return m;
  }

  Napi::Value Path(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), path_); }

  // Finds the .rodata map; libbpf names internal maps "<obj prefix>.rodata".
  struct bpf_map* RodataMap() {
    struct bpf_map* m = bpf_object__find_map_by_name(obj_, ".rodata");
    if (m != nullptr) return m;
    bpf_object__for_each_map(m, obj_) {
      const char* n = bpf_map__name(m);
      size_t len = strlen(n);
      if (bpf_map__is_internal(m) && len >= 7 && strcmp(n + len - 7, ".rodata") == 0) return m;
    }
    return nullptr;
  }

  void SetRodata(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* op = "setRodata";
    RequireUnloaded(env, op);
    if (!ArgPresent(info, 0) || !info[0].IsObject()) ThrowInvalid(env, "setRodata: values must be an object");
    Napi::Object values = info[0].As<Napi::Object>();
    Napi::Array keys = values.GetPropertyNames();
    if (keys.Length() == 0) return;

    struct bpf_map* map = RodataMap();
    const struct btf* btf = bpf_object__btf(obj_);
    if (map == nullptr || btf == nullptr) ThrowErrno(env, "setRodata: " + path_ + " has no .rodata with BTF", ENOENT);
    int sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
    if (sec_id < 0) ThrowErrno(env, "setRodata: " + path_ + " has no .rodata datasec", ENOENT);
    const struct btf_type* sec = btf__type_by_id(btf, sec_id);
    size_t data_size = 0;
    const uint8_t* init = static_cast<const uint8_t*>(bpf_map__initial_value(map, &data_size));
    if (init == nullptr) ThrowErrno(env, "setRodata: no initial value for .rodata", ENOENT);
    // Edit a copy and hand it back whole: a bad value leaves .rodata untouched.
    std::vector<uint8_t> copy(init, init + data_size);
    uint8_t* data = copy.data();

    for (uint32_t k = 0; k < keys.Length(); k++) {
      std::string name = keys.Get(k).As<Napi::String>().Utf8Value();
      Napi::Value v = values.Get(name);
      const struct btf_var_secinfo* vsi = btf_var_secinfos(sec);
      bool found = false;
      for (int i = 0; i < btf_vlen(sec); i++, vsi++) {
        const struct btf_type* var = btf__type_by_id(btf, vsi->type);
        if (var == nullptr) continue;
        const char* vname = btf__name_by_offset(btf, var->name_off);
        if (vname == nullptr || name != vname) continue;
        found = true;
        if (static_cast<size_t>(vsi->offset) + vsi->size > data_size)
          ThrowErrno(env, "setRodata: '" + name + "' lies outside .rodata", EINVAL);
        WriteValue(env, name, v, data + vsi->offset, vsi->size);
        break;
      }
      if (!found) ThrowErrno(env, "setRodata: no .rodata variable '" + name + "' in " + path_, ENOENT);
    }
    int err = bpf_map__set_initial_value(map, copy.data(), copy.size());
    if (err != 0) ThrowErrno(env, "setRodata", err);
  }

  static void WriteValue(Napi::Env env, const std::string& name, Napi::Value v, uint8_t* dst, uint32_t size) {
    if (v.IsBuffer()) {
      Napi::Buffer<uint8_t> b = v.As<Napi::Buffer<uint8_t>>();
      if (b.Length() > size)
        ThrowInvalid(env, "setRodata: '" + name + "' holds " + std::to_string(size) + " bytes, got " +
                              std::to_string(b.Length()));
      memset(dst, 0, size);
      memcpy(dst, b.Data(), b.Length());
      return;
    }
    uint64_t raw;
    if (v.IsBoolean()) {
      raw = v.As<Napi::Boolean>().Value() ? 1 : 0;
    } else if (v.IsBigInt()) {
      bool lossless = false;
      raw = v.As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless) {
        int64_t s = v.As<Napi::BigInt>().Int64Value(&lossless);
        if (!lossless) ThrowInvalid(env, "setRodata: '" + name + "' is out of 64-bit range");
        raw = static_cast<uint64_t>(s);
      }
    } else if (v.IsNumber()) {
      double d = v.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(d) || std::floor(d) != d) ThrowInvalid(env, "setRodata: '" + name + "' must be an integer");
      if (d < 0) raw = static_cast<uint64_t>(static_cast<int64_t>(d));
      else raw = static_cast<uint64_t>(d);
    } else {
      ThrowInvalid(env, "setRodata: '" + name + "' must be a number, bigint, boolean or Buffer");
    }
    if (size != 1 && size != 2 && size != 4 && size != 8)
      ThrowInvalid(env, "setRodata: '" + name + "' is " + std::to_string(size) + " bytes wide: pass a Buffer");
    if (size < 8) {
      // Accept both the unsigned and the signed range of the variable's width.
      int64_t s = static_cast<int64_t>(raw);
      uint64_t umax = (1ULL << (size * 8)) - 1;
      int64_t smin = -static_cast<int64_t>(1ULL << (size * 8 - 1));
      if (raw > umax && (s < smin || s >= 0))
        ThrowInvalid(env, "setRodata: '" + name + "' does not fit in " + std::to_string(size) + " bytes");
    }
    for (uint32_t i = 0; i < size; i++) dst[i] = static_cast<uint8_t>(raw >> (8 * i));
  }

  void ReuseMap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireUnloaded(env, "reuseMap");
    std::string name = ArgString(info, 0, "reuseMap", "mapName");
    int fd = ArgFd(info, 1, "reuseMap");
    RequireKind(env, fd, FdKind::BpfMap, "reuseMap");
    struct bpf_map* m = FindMap(env, name, "reuseMap");
    int err = bpf_map__reuse_fd(m, fd);
    if (err != 0) ThrowErrno(env, "reuseMap " + name, err);
  }

  void SetMaxEntries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireUnloaded(env, "setMaxEntries");
    std::string name = ArgString(info, 0, "setMaxEntries", "mapName");
    uint32_t max = ArgU32(info, 1, "setMaxEntries", "maxEntries");
    struct bpf_map* m = FindMap(env, name, "setMaxEntries");
    int err = bpf_map__set_max_entries(m, max);
    if (err != 0) ThrowErrno(env, "setMaxEntries " + name, err);
  }

  void Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireUnloaded(env, "load");
    LibbpfLogReset();
    int err = bpf_object__load(obj_);
    std::string log = LibbpfLogTake();
    if (err == 0) {
      loaded_ = true;
      return;
    }
    // libbpf cannot retry a failed load.
    load_failed_ = true;
    if (err < 0) err = -err;
    std::string vlog = ExtractVerifierLog(log);
    if (!vlog.empty()) {
      Napi::Error e = CodedError(env, "load " + path_ + ": the verifier rejected a program (" + ErrnoName(err) + ")",
                                 "EVERIFIER", err);
      e.Set("verifierLog", vlog);
      e.Set("libbpfLog", log);
      throw e;
    }
    Napi::Error e = ErrnoError(env, "load " + path_, err);
    if (!log.empty()) e.Set("libbpfLog", log);
    throw e;
  }

  Napi::Object ProgObj(Napi::Env env, struct bpf_program* p) {
    int fd = bpf_program__fd(p);
    if (fd < 0) fd = -1;  // not loaded (libbpf returns -errno)
    return ProgInfoObject(env, bpf_program__name(p), fd, IdOfFd(fd), bpf_program__type(p));
  }

  Napi::Object MapObj(Napi::Env env, struct bpf_map* m) {
    int fd = bpf_map__fd(m);
    if (fd < 0) fd = -1;
    return MapInfoObject(env, bpf_map__name(m), fd, IdOfFd(fd), bpf_map__type(m), bpf_map__key_size(m),
                         bpf_map__value_size(m), bpf_map__max_entries(m));
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_object* obj = Obj(env, "programs");
    Napi::Array out = Napi::Array::New(env);
    struct bpf_program* p;
    uint32_t i = 0;
    bpf_object__for_each_program(p, obj) out.Set(i++, ProgObj(env, p));
    return out;
  }

  Napi::Value Program(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "program", "name");
    struct bpf_program* p = bpf_object__find_program_by_name(Obj(env, "program"), name.c_str());
    if (p == nullptr) ThrowErrno(env, "program: no program '" + name + "' in " + path_, ENOENT);
    return ProgObj(env, p);
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_object* obj = Obj(env, "maps");
    Napi::Array out = Napi::Array::New(env);
    struct bpf_map* m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, obj) out.Set(i++, MapObj(env, m));
    return out;
  }

  Napi::Value Map(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "map", "name");
    return MapObj(env, FindMap(env, name, "map"));
  }

  void Close(const Napi::CallbackInfo& info) {
    if (obj_ != nullptr) bpf_object__close(obj_);
    obj_ = nullptr;
  }
};

Napi::FunctionReference* BpfObjectWrap::ctor = nullptr;

Napi::Value OpenObject(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "openObject", "path");
  return BpfObjectWrap::ctor->New({Napi::String::New(info.Env(), path)});
}

Napi::Value ProgInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "progInfo");
  RequireKind(env, fd, FdKind::BpfProg, "progInfo");
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof pi);
  uint32_t len = sizeof pi;
  if (bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) ThrowErrno(env, "progInfo", errno);
  return ProgInfoObject(env, pi.name, fd, pi.id, pi.type);
}

Napi::Value MapInfoFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "mapInfo");
  RequireKind(env, fd, FdKind::BpfMap, "mapInfo");
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof mi);
  uint32_t len = sizeof mi;
  if (bpf_obj_get_info_by_fd(fd, &mi, &len) != 0) ThrowErrno(env, "mapInfo", errno);
  return MapInfoObject(env, mi.name, fd, mi.id, mi.type, mi.key_size, mi.value_size, mi.max_entries);
}

Napi::Value ProgFdById(const Napi::CallbackInfo& info) {
  uint32_t id = ArgU32(info, 0, "progFdById", "id");
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) ThrowErrno(info.Env(), "progFdById " + std::to_string(id), errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value MapFdById(const Napi::CallbackInfo& info) {
  uint32_t id = ArgU32(info, 0, "mapFdById", "id");
  int fd = bpf_map_get_fd_by_id(id);
  if (fd < 0) ThrowErrno(info.Env(), "mapFdById " + std::to_string(id), errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value LinkFdById(const Napi::CallbackInfo& info) {
  uint32_t id = ArgU32(info, 0, "linkFdById", "id");
  int fd = bpf_link_get_fd_by_id(id);
  if (fd < 0) ThrowErrno(info.Env(), "linkFdById " + std::to_string(id), errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value LinkInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "linkInfo");
  RequireKind(env, fd, FdKind::BpfLink, "linkInfo");
  struct bpf_link_info li;
  memset(&li, 0, sizeof li);
  uint32_t len = sizeof li;
  if (bpf_obj_get_info_by_fd(fd, &li, &len) != 0) ThrowErrno(env, "linkInfo", errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", li.id);
  o.Set("progId", li.prog_id);
  o.Set("type", li.type);
  // XDP (6), TCX (11) and netkit (13) links all start their info with the ifindex.
  uint32_t ifindex = 0;
  if (li.type == 6 || li.type == 11 || li.type == 13) ifindex = li.xdp.ifindex;
  o.Set("ifindex", ifindex);
  return o;
}

void CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "closeFd");
  FdKind k = KindOfFd(fd);
  if (k == FdKind::Closed) ThrowErrno(env, "closeFd " + std::to_string(fd), EBADF);
  // Refuse to close what is not ours to close (stdio, libuv's own fds).
  if (k == FdKind::Other)
    throw CodedError(env, "closeFd: fd " + std::to_string(fd) + " is not a BPF object", "EINVAL", EINVAL);
  if (close(fd) != 0) ThrowErrno(env, "closeFd", errno);
}

Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0, "dupFd");
  if (KindOfFd(fd) == FdKind::Closed) ThrowErrno(env, "dupFd " + std::to_string(fd), EBADF);
  int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (nfd < 0) ThrowErrno(env, "dupFd", errno);
  return Napi::Number::New(env, nfd);
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), "numPossibleCpus", n);
  return Napi::Number::New(info.Env(), n);
}

}  // namespace

void InitObjects(Napi::Env env, Napi::Object exports) {
  Napi::Function f = BpfObjectWrap::Define(env);
  BpfObjectWrap::ctor = new Napi::FunctionReference(Napi::Persistent(f));
  exports.Set("openObject", Napi::Function::New(env, OpenObject, "openObject"));
  exports.Set("progInfo", Napi::Function::New(env, ProgInfo, "progInfo"));
  exports.Set("mapInfo", Napi::Function::New(env, MapInfoFn, "mapInfo"));
  exports.Set("progFdById", Napi::Function::New(env, ProgFdById, "progFdById"));
  exports.Set("mapFdById", Napi::Function::New(env, MapFdById, "mapFdById"));
  exports.Set("linkFdById", Napi::Function::New(env, LinkFdById, "linkFdById"));
  exports.Set("linkInfo", Napi::Function::New(env, LinkInfo, "linkInfo"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("dupFd", Napi::Function::New(env, DupFd, "dupFd"));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus, "numPossibleCpus"));
}

}  // namespace ss
