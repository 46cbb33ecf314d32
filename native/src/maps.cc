// Map access from user space. Sizes are checked against the map's own info before
// any syscall so a wrong Buffer can never make the kernel read or write past it.
#include "common.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ss {

namespace {

constexpr int kENOTSUPP = 524;

struct MapShape {
  uint32_t type;
  uint32_t key_size;
  uint32_t value_size;    // as the map declares it
  uint32_t max_entries;
  size_t user_value_size;  // what user space reads/writes per element (per-CPU: ncpu * round8)
  bool per_cpu;
};

bool IsPerCpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

MapShape Shape(Napi::Env env, int fd, const char* op) {
  RequireKind(env, fd, FdKind::BpfMap, op);
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof mi);
  uint32_t len = sizeof mi;
  if (bpf_obj_get_info_by_fd(fd, &mi, &len) != 0) ThrowErrno(env, op, errno);
  MapShape s{mi.type, mi.key_size, mi.value_size, mi.max_entries, mi.value_size, IsPerCpu(mi.type)};
  if (s.per_cpu) {
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu < 0) ThrowErrno(env, op, ncpu);
    s.user_value_size = static_cast<size_t>((mi.value_size + 7) & ~7u) * ncpu;
  }
  return s;
}

void CheckKey(Napi::Env env, const MapShape& s, size_t len, const char* op) {
  if (len != s.key_size)
    throw CodedError(env,
                     std::string(op) + ": key is " + std::to_string(len) + " bytes, the map's key is " +
                         std::to_string(s.key_size),
                     "EINVAL", EINVAL);
}

void CheckValue(Napi::Env env, const MapShape& s, size_t len, const char* op) {
  if (len != s.user_value_size)
    throw CodedError(env,
                     std::string(op) + ": value is " + std::to_string(len) + " bytes, the map expects " +
                         std::to_string(s.user_value_size) + (s.per_cpu ? " (ncpu x 8-byte-rounded value)" : ""),
                     "EINVAL", EINVAL);
}

Napi::Buffer<uint8_t> Copy(Napi::Env env, const uint8_t* p, size_t n) { return Napi::Buffer<uint8_t>::Copy(env, p, n); }

// Keys for the null-key case must still be a valid pointer of key_size bytes.
std::vector<uint8_t> KeyBytes(const Napi::Buffer<uint8_t>& b) { return std::vector<uint8_t>(b.Data(), b.Data() + b.Length()); }

Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapLookup";
  int fd = ArgFd(info, 0, op);
  Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, op, "key");
  MapShape s = Shape(env, fd, op);
  CheckKey(env, s, key.Length(), op);
  std::vector<uint8_t> k = KeyBytes(key);
  std::vector<uint8_t> v(s.user_value_size + 8);
  if (bpf_map_lookup_elem(fd, k.data(), v.data()) != 0) {
    if (errno == ENOENT) return env.Null();
    ThrowErrno(env, op, errno);
  }
  return Copy(env, v.data(), s.user_value_size);
}

void MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapUpdate";
  int fd = ArgFd(info, 0, op);
  Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, op, "key");
  Napi::Buffer<uint8_t> value = ArgBuffer(info, 2, op, "value");
  uint64_t flags = ArgPresent(info, 3) ? ArgU32(info, 3, op, "flags") : 0;
  MapShape s = Shape(env, fd, op);
  CheckKey(env, s, key.Length(), op);
  CheckValue(env, s, value.Length(), op);
  std::vector<uint8_t> k = KeyBytes(key);
  std::vector<uint8_t> v(value.Data(), value.Data() + value.Length());
  if (bpf_map_update_elem(fd, k.data(), v.data(), flags) != 0) ThrowErrno(env, op, errno);
}

Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapDelete";
  int fd = ArgFd(info, 0, op);
  Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, op, "key");
  MapShape s = Shape(env, fd, op);
  CheckKey(env, s, key.Length(), op);
  std::vector<uint8_t> k = KeyBytes(key);
  if (bpf_map_delete_elem(fd, k.data()) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    ThrowErrno(env, op, errno);
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value MapNextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapNextKey";
  int fd = ArgFd(info, 0, op);
  MapShape s = Shape(env, fd, op);
  std::vector<uint8_t> k;
  bool have = ArgPresent(info, 1);
  if (have) {
    Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, op, "key");
    CheckKey(env, s, key.Length(), op);
    k = KeyBytes(key);
  }
  std::vector<uint8_t> next(s.key_size + 8);
  if (bpf_map_get_next_key(fd, have ? k.data() : nullptr, next.data()) != 0) {
    if (errno == ENOENT) return env.Null();
    ThrowErrno(env, op, errno);
  }
  return Copy(env, next.data(), s.key_size);
}

bool BatchUnsupported(int err) { return err == EINVAL || err == EOPNOTSUPP || err == kENOTSUPP || err == ENOSYS; }

// Iteration fallback for maps without batch support.
void DumpByIteration(Napi::Env env, int fd, const MapShape& s, Napi::Array out) {
  std::vector<uint8_t> key(s.key_size + 8), next(s.key_size + 8), val(s.user_value_size + 8);
  bool first = true;
  uint32_t n = out.Length();
  // Bound the walk: a hash map being rewritten concurrently could restart iteration.
  uint64_t limit = static_cast<uint64_t>(s.max_entries) * 2 + 16;
  for (uint64_t i = 0; i < limit; i++) {
    if (bpf_map_get_next_key(fd, first ? nullptr : key.data(), next.data()) != 0) {
      if (errno == ENOENT) return;
      ThrowErrno(env, "mapDump: next key", errno);
    }
    first = false;
    memcpy(key.data(), next.data(), s.key_size);
    if (bpf_map_lookup_elem(fd, key.data(), val.data()) != 0) {
      if (errno == ENOENT) continue;  // deleted under us
      ThrowErrno(env, "mapDump: lookup", errno);
    }
    Napi::Object e = Napi::Object::New(env);
    e.Set("key", Copy(env, key.data(), s.key_size));
    e.Set("value", Copy(env, val.data(), s.user_value_size));
    out.Set(n++, e);
  }
}

Napi::Value MapDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapDump";
  int fd = ArgFd(info, 0, op);
  MapShape s = Shape(env, fd, op);
  Napi::Array out = Napi::Array::New(env);
  if (s.key_size == 0) return out;  // queues/stacks have no keys to walk

  uint32_t chunk = 256;
  // The batch token is a bucket index for hashes and a key for arrays.
  size_t token_size = s.key_size > 8 ? s.key_size : 8;
  std::vector<uint8_t> in_tok(token_size), out_tok(token_size);
  bool first = true;
  uint32_t n = 0;
  while (true) {
    std::vector<uint8_t> keys(static_cast<size_t>(chunk) * s.key_size);
    std::vector<uint8_t> vals(static_cast<size_t>(chunk) * s.user_value_size);
    uint32_t count = chunk;
    struct bpf_map_batch_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.sz = sizeof opts;
    int rc = bpf_map_lookup_batch(fd, first ? nullptr : in_tok.data(), out_tok.data(), keys.data(), vals.data(),
                                  &count, &opts);
    int err = rc != 0 ? errno : 0;
    if (rc != 0 && err != ENOENT) {
      if (err == ENOSPC && count == 0 && chunk < (1u << 20)) {
        chunk *= 4;  // one hash bucket holds more than a chunk
        continue;
      }
      if (first && BatchUnsupported(err)) {
        DumpByIteration(env, fd, s, out);
        return out;
      }
      ThrowErrno(env, "mapDump: lookup batch", err);
    }
    for (uint32_t i = 0; i < count; i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("key", Copy(env, keys.data() + static_cast<size_t>(i) * s.key_size, s.key_size));
      e.Set("value", Copy(env, vals.data() + static_cast<size_t>(i) * s.user_value_size, s.user_value_size));
      out.Set(n++, e);
    }
    if (err == ENOENT) break;
    first = false;
    in_tok = out_tok;
  }
  return out;
}

void MapUpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapUpdateBatch";
  int fd = ArgFd(info, 0, op);
  if (!ArgPresent(info, 1) || !info[1].IsArray() || !ArgPresent(info, 2) || !info[2].IsArray())
    ThrowInvalid(env, "mapUpdateBatch: keys and values must be arrays of Buffers");
  Napi::Array ka = info[1].As<Napi::Array>();
  Napi::Array va = info[2].As<Napi::Array>();
  if (ka.Length() != va.Length()) ThrowInvalid(env, "mapUpdateBatch: keys and values differ in length");
  MapShape s = Shape(env, fd, op);
  uint32_t n = ka.Length();
  if (n == 0) return;
  std::vector<uint8_t> keys(static_cast<size_t>(n) * s.key_size), vals(static_cast<size_t>(n) * s.user_value_size);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value k = ka.Get(i), v = va.Get(i);
    if (!k.IsBuffer() || !v.IsBuffer()) ThrowInvalid(env, "mapUpdateBatch: element " + std::to_string(i) + " is not a Buffer");
    Napi::Buffer<uint8_t> kb = k.As<Napi::Buffer<uint8_t>>(), vb = v.As<Napi::Buffer<uint8_t>>();
    CheckKey(env, s, kb.Length(), op);
    CheckValue(env, s, vb.Length(), op);
    if (s.key_size) memcpy(keys.data() + static_cast<size_t>(i) * s.key_size, kb.Data(), s.key_size);
    memcpy(vals.data() + static_cast<size_t>(i) * s.user_value_size, vb.Data(), s.user_value_size);
  }
  uint32_t count = n;
  struct bpf_map_batch_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.sz = sizeof opts;
  if (bpf_map_update_batch(fd, keys.data(), vals.data(), &count, &opts) == 0) return;
  int err = errno;
  if (!BatchUnsupported(err)) ThrowErrno(env, op, err);
  // Fallback: one element at a time, from the start (updates are idempotent).
  for (uint32_t i = 0; i < n; i++) {
    if (bpf_map_update_elem(fd, keys.data() + static_cast<size_t>(i) * s.key_size,
                            vals.data() + static_cast<size_t>(i) * s.user_value_size, BPF_ANY) != 0)
      ThrowErrno(env, op, errno);
  }
}

Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapDeleteBatch";
  int fd = ArgFd(info, 0, op);
  if (!ArgPresent(info, 1) || !info[1].IsArray()) ThrowInvalid(env, "mapDeleteBatch: keys must be an array of Buffers");
  Napi::Array ka = info[1].As<Napi::Array>();
  MapShape s = Shape(env, fd, op);
  uint32_t n = ka.Length();
  std::vector<uint8_t> keys(static_cast<size_t>(n) * s.key_size + 8);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value k = ka.Get(i);
    if (!k.IsBuffer()) ThrowInvalid(env, "mapDeleteBatch: element " + std::to_string(i) + " is not a Buffer");
    Napi::Buffer<uint8_t> kb = k.As<Napi::Buffer<uint8_t>>();
    CheckKey(env, s, kb.Length(), op);
    if (s.key_size) memcpy(keys.data() + static_cast<size_t>(i) * s.key_size, kb.Data(), s.key_size);
  }
  uint32_t deleted = 0, i = 0;
  bool batch = true;
  struct bpf_map_batch_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.sz = sizeof opts;
  while (i < n) {
    uint8_t* kp = keys.data() + static_cast<size_t>(i) * s.key_size;
    if (batch) {
      uint32_t count = n - i;
      int rc = bpf_map_delete_batch(fd, kp, &count, &opts);
      int err = rc != 0 ? errno : 0;
      if (count > n - i) count = n - i;
      deleted += count;
      i += count;
      if (rc == 0) break;
      if (err == ENOENT) {
        i++;  // the batch stops at the first absent key: skip it
        continue;
      }
      if (count == 0 && BatchUnsupported(err)) {
        batch = false;
        continue;
      }
      ThrowErrno(env, op, err);
    } else {
      if (bpf_map_delete_elem(fd, kp) == 0) deleted++;
      else if (errno != ENOENT) ThrowErrno(env, op, errno);
      i++;
    }
  }
  return Napi::Number::New(env, deleted);
}

void ProgArraySet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "progArraySet";
  int fd = ArgFd(info, 0, op);
  uint32_t index = ArgU32(info, 1, op, "index");
  int64_t pfd64 = ArgInt(info, 2, op, "progFd");
  MapShape s = Shape(env, fd, op);
  if (s.type != BPF_MAP_TYPE_PROG_ARRAY) ThrowInvalid(env, "progArraySet: map is not a PROG_ARRAY");
  int pfd = static_cast<int>(pfd64);
  RequireKind(env, pfd, FdKind::BpfProg, op);
  if (bpf_map_update_elem(fd, &index, &pfd, BPF_ANY) != 0) ThrowErrno(env, op, errno);
}

void ProgArrayClear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "progArrayClear";
  int fd = ArgFd(info, 0, op);
  uint32_t index = ArgU32(info, 1, op, "index");
  MapShape s = Shape(env, fd, op);
  if (s.type != BPF_MAP_TYPE_PROG_ARRAY) ThrowInvalid(env, "progArrayClear: map is not a PROG_ARRAY");
  if (bpf_map_delete_elem(fd, &index) != 0 && errno != ENOENT) ThrowErrno(env, op, errno);
}

void DevmapSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "devmapSet";
  int fd = ArgFd(info, 0, op);
  uint32_t key = ArgU32(info, 1, op, "key");
  uint32_t ifindex = ArgU32(info, 2, op, "ifindex");
  MapShape s = Shape(env, fd, op);
  if (s.type != BPF_MAP_TYPE_DEVMAP && s.type != BPF_MAP_TYPE_DEVMAP_HASH)
    ThrowInvalid(env, "devmapSet: map is not a DEVMAP or DEVMAP_HASH");
  uint8_t val[8];
  memcpy(val, &ifindex, 4);
  int32_t noprog = -1;  // value_size 8: struct bpf_devmap_val with no program
  memcpy(val + 4, &noprog, 4);
  if (s.value_size != 4 && s.value_size != 8) ThrowInvalid(env, "devmapSet: unexpected devmap value size");
  if (s.key_size != 4) ThrowInvalid(env, "devmapSet: unexpected devmap key size");
  if (bpf_map_update_elem(fd, &key, val, BPF_ANY) != 0) ThrowErrno(env, op, errno);
}

Napi::Value MapCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "mapCreate";
  uint32_t type = ArgU32(info, 0, op, "type");
  uint32_t ks = ArgU32(info, 1, op, "keySize");
  uint32_t vs = ArgU32(info, 2, op, "valueSize");
  uint32_t max = ArgU32(info, 3, op, "maxEntries");
  std::string name = ArgPresent(info, 4) ? ArgString(info, 4, op, "name") : "";
  // Kernel map names: at most 15 chars of [A-Za-z0-9_.].
  std::string clean;
  for (char c : name) {
    if (clean.size() >= 15) break;
    clean += (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') ? c : '_';
  }
  int fd = bpf_map_create(static_cast<enum bpf_map_type>(type), clean.empty() ? nullptr : clean.c_str(), ks, vs, max,
                          nullptr);
  if (fd < 0) ThrowErrno(env, "mapCreate " + clean, errno);
  return Napi::Number::New(env, fd);
}

}  // namespace

void InitMaps(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup, "mapLookup"));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate, "mapUpdate"));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete, "mapDelete"));
  exports.Set("mapNextKey", Napi::Function::New(env, MapNextKey, "mapNextKey"));
  exports.Set("mapDump", Napi::Function::New(env, MapDump, "mapDump"));
  exports.Set("mapUpdateBatch", Napi::Function::New(env, MapUpdateBatch, "mapUpdateBatch"));
  exports.Set("mapDeleteBatch", Napi::Function::New(env, MapDeleteBatch, "mapDeleteBatch"));
  exports.Set("progArraySet", Napi::Function::New(env, ProgArraySet, "progArraySet"));
  exports.Set("progArrayClear", Napi::Function::New(env, ProgArrayClear, "progArrayClear"));
  exports.Set("devmapSet", Napi::Function::New(env, DevmapSet, "devmapSet"));
  exports.Set("mapCreate", Napi::Function::New(env, MapCreate, "mapCreate"));
}

}  // namespace ss
