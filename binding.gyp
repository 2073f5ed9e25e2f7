{
  "targets": [
    {
      "target_name": "vstun_native",
      "sources": [
        "native/module.c",
        "native/errors.c",
        "native/args.c",
        "native/tun.c",
        "native/link.c",
        "native/socket.c",
        "native/ring.c",
        "native/reader.c",
        "native/writer.c",
        "native/csum.c",
        "native/notify.c",
        "native/loop-delay.c",
        "native/netlink.c",
        "native/steer.c"
      ],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
