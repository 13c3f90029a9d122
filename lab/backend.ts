// The Envoy stand-in: an HTTP server that answers with its node's name, on every address.
import { createServer } from "node:http";

const nodeName = process.env.NODE_NAME ?? "unknown";
const port = Number(process.env.PORT ?? "8080");

const server = createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "x-served-by": nodeName, connection: "close" });
  res.end(`${nodeName}\n`);
});
server.listen({ port, host: "::", ipv6Only: false }, () => {
  console.log(JSON.stringify({ msg: "backend listening", node: nodeName, port }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
