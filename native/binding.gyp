{
  "targets": [
    {
      "target_name": "floatip_rawsocket",
      "sources": ["src/rawsocket.cc"],
      # node_addon_api_except: C++ exceptions on, so failures become JS exceptions via Napi::Error.
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "conditions": [
        ["OS!='linux'", {"sources!": ["src/rawsocket.cc"], "type": "none"}]
      ]
    }
  ]
}
