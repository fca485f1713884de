{
  "targets": [
    {
      "target_name": "rawio",
      "sources": ["src/rawio.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
