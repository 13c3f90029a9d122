// The Envoy stand-in: an HTTP server that answers with its node's name, on every address.
import { createServer } from "node:http";

const nodeName = process.env.NODE_NAME ?? "unknown";
const port = Number(process.env.PORT ?? "8080");

// NODE_MAP="198.51.100.11=master-0,..." names the node a request came through (kube-proxy SNAT).
const nodesByIp = new Map(
  (process.env.NODE_MAP ?? "")
    .split(",")
    .filter(Boolean)
    .map((kv) => kv.split("=") as [string, string]),
);

const server = createServer((req, res) => {
  const source = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  const via = nodesByIp.get(source);
  res.writeHead(200, { "content-type": "text/plain", "x-served-by": nodeName });
  res.end(via ? `${nodeName} via ${via}\n` : `${nodeName}\n`);
});
server.listen({ port, host: "::", ipv6Only: false }, () => {
  console.log(JSON.stringify({ msg: "backend listening", node: nodeName, port }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
