import type { FaultKind } from "../src/ops/lab-control.js";
import type { Lab, LabNode } from "./lab.js";
import { run } from "./sh.js";

export { FAULT_KINDS, type FaultKind } from "../src/ops/lab-control.js";

const GRACE_PERIOD_MS = 30_000;

async function pidsIn(ns: string): Promise<number[]> {
  const out = await run("ip", ["netns", "pids", ns]);
  return out.split(/\s+/).filter(Boolean).map(Number);
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

async function setSwitchPort(lab: Lab, port: string, state: "up" | "down"): Promise<void> {
  if (!port) return;
  await run("ip", ["-n", lab.switchNs, "link", "set", port, state]);
}

/**
 * Fails a node the way real nodes fail. Link faults act on the switch side so the node's own NIC
 * loses carrier (what a pulled cable or a dead hypervisor port looks like from inside).
 */
export async function injectFault(lab: Lab, node: LabNode, kind: FaultKind): Promise<void> {
  switch (kind) {
    case "crash":
      // Power loss: every process gone at once and the node silent on both networks.
      signalAll(await pidsIn(node.ns), "SIGKILL");
      await setSwitchPort(lab, node.switchPorts.public, "down");
      await setSwitchPort(lab, node.switchPorts.internal, "down");
      if (lab.options.secondPublic) await setSwitchPort(lab, node.switchPorts.secondPublic, "down");
      return;
    case "freeze":
      // A hung node: processes stop but the kernel keeps forwarding, the nastiest case for failover.
      signalAll(await pidsIn(node.ns), "SIGSTOP");
      return;
    case "public-link-down":
      await setSwitchPort(lab, node.switchPorts.public, "down");
      return;
    case "partition":
      // Cut from peers and from the API server (both live on the internal network).
      await setSwitchPort(lab, node.switchPorts.internal, "down");
      return;
    case "sigterm": {
      // Graceful shutdown with a grace period, as the kubelet does: SIGTERM, wait, then SIGKILL.
      const running = lab.processes.filter((p) => p.node === node.name && p.child.exitCode === null);
      signalAll(await pidsIn(node.ns), "SIGTERM");
      const grace = new Promise((r) => setTimeout(r, GRACE_PERIOD_MS));
      await Promise.race([Promise.all(running.map((p) => p.exited)), grace]);
      signalAll(await pidsIn(node.ns), "SIGKILL");
      return;
    }
  }
}

/** Undoes every fault on the node: links up, frozen processes continued, dead ones restarted. */
export async function restoreNode(lab: Lab, node: LabNode): Promise<void> {
  await setSwitchPort(lab, node.switchPorts.public, "up");
  await setSwitchPort(lab, node.switchPorts.internal, "up");
  if (lab.options.secondPublic) await setSwitchPort(lab, node.switchPorts.secondPublic, "up");
  signalAll(await pidsIn(node.ns), "SIGCONT");
  lab.restartStopped(node);
}
