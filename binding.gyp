{
  "targets": [
    {
      "target_name": "vstun_native",
      "sources": [],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
