// Starts a control plane and a lab, prints what it made, then dies without any cleanup.
import { startControlPlane } from "../../testenv/controlplane.js";
import { Lab } from "../../lab/lab.js";

const cp = await startControlPlane();
const lab = await Lab.create({ nodes: 1 });
console.log(JSON.stringify({ dir: cp.dir, prefix: lab.prefix }));
process.kill(process.pid, "SIGKILL");
