{
  "targets": [
    {
      "target_name": "slipstream",
      "sources": [
        "src/addon.cc",
        "src/args.cc",
        "src/errors.cc",
        "src/loop.cc",
        "src/objects.cc",
        "src/maps.cc",
        "src/pins.cc",
        "src/xdp.cc",
        "src/tc.cc",
        "src/ringbuf.cc",
        "src/testrun.cc",
        "src/netns.cc",
        "src/netlink.cc",
        "src/probes.cc",
        "src/sdnotify.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=gnu++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter",
                    "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
