// Creates a lab cluster (control plane, namespaces, kube-proxy), reports what it made, waits to be signalled.
import { LabCluster } from "../../lab/cluster.js";

const cluster = await LabCluster.create({ nodes: 1 });
console.log(
  JSON.stringify({ prefix: cluster.lab.prefix, key: cluster.heartbeatKeyFile, cp: cluster.cp.dir }),
);
setInterval(() => {}, 1000);
