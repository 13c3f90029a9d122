{
  "targets": [
    {
      # Linux only (AF_PACKET). Output: build/Release/floatip_rawsocket.node, loaded by src/native/rawsocket.ts.
      "target_name": "floatip_rawsocket",
      "sources": ["src/rawsocket.cc"],
      # node_addon_api_except: C++ exceptions on, so failures become JS exceptions via Napi::Error.
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    },
    {
      # The heartbeat pump's thread (native/PUMP-SPEC.md): build/Release/floatip_pump.node, loaded by src/native/pump.ts.
      # HMAC comes from the OpenSSL inside the node binary (its headers ship with node's): no -lcrypto.
      "target_name": "floatip_pump",
      "sources": ["src/pump.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    }
  ]
}
