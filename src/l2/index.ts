// Public surface of the layer-2 codecs and responder (addresses: src/api/ip.ts).
export * from "./result.js";
export * from "./mac.js";
export * from "./checksum.js";
export * from "./ethernet.js";
export * from "./arp.js";
export * from "./ndp.js";
export * from "./responder.js";
