import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, createWriteStream, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  API_RELAY_IP,
  API_RELAY_PORT,
  CLIENT_IP,
  CLIENT_IP6,
  CLIENT_SECOND_IP,
  INTERNAL_PREFIX_LEN,
  PUBLIC6_PREFIX_LEN,
  PUBLIC_PREFIX_LEN,
  SECOND_PUBLIC_PREFIX_LEN,
  nodeInternalIp,
  nodeInternalIp6,
  nodePublicIp,
  nodePublicIp6,
  nodeSecondPublicIp,
} from "./addresses.js";
import { repoRoot } from "../testenv/binaries.js";
import { sweepDeadRunDirs } from "../testenv/controlplane.js";
import { nsRun, run, runQuietSync } from "./sh.js";

export interface LabNode {
  index: number;
  role: "control-plane" | "worker";
  name: string;
  ns: string;
  publicIp: string;
  publicIp6: string;
  internalIp: string;
  internalIp6: string;
  secondPublicIp: string;
  /** Switch-side ports: taking them down removes carrier from the node's NIC, like a pulled cable. */
  switchPorts: { public: string; internal: string; secondPublic: string };
}

export interface LabOptions {
  nodes?: number;
  /** Node names; default master-0..N-1 as in the seed. */
  nodeNames?: string[];
  /** Worker nodes on the internal network only (where the Envoy stand-in runs), named worker-0... */
  workers?: number;
  /** Add the second public segment (`ens4` on every node, `eth1` on the client). */
  secondPublic?: boolean;
  /** Unix socket of an API server relay in the root namespace; the lab exposes it at API_RELAY_IP:6443. */
  apiSocket?: string;
}

export interface LabProcess {
  name: string;
  node: string | undefined;
  ns: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  logFile: string;
}

const NS_PREFIX = "fip-";

const liveLabs = new Set<Lab>();
let signalsInstalled = false;

/**
 * SIGINT/SIGTERM end a process without running 'exit' handlers: tear every live lab down first, then
 * exit with the conventional 128+signal code. Only installed when no one else handles the signal, so callers that need a
 * graceful path (the demo's Ctrl-C) keep it.
 */
function installSignalTeardown(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (process.listenerCount(signal) > 1) return;
      for (const lab of [...liveLabs]) lab.destroyNow();
      // process.exit runs the other 'exit' handlers (e.g. the control plane's cleanup).
      process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[signal]);
    });
  }
}
const FILE_PREFIX = "floatip-lab-";

/** Deletes namespaces and files of earlier lab runs whose process no longer exists. */
export function sweepStaleLabs(): string[] {
  const removed: string[] = [];
  for (const line of runQuietSync("ip", ["netns", "list"]).split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = /^fip-(\d+)-/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    killNamespaceProcesses(name, "KILL");
    runQuietSync("ip", ["netns", "del", name]);
    removed.push(name);
  }
  sweepDeadRunDirs(`${FILE_PREFIX}${NS_PREFIX}`);
  return removed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killNamespaceProcesses(ns: string, signal: NodeJS.Signals | "KILL"): void {
  for (const pid of runQuietSync("ip", ["netns", "pids", ns]).split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), signal === "KILL" ? "SIGKILL" : signal);
    } catch {
      // already gone
    }
  }
}

/**
 * A one-machine stand-in for the seed's topology: control-plane "nodes" as network namespaces,
 * a client namespace ("the Internet"), and a switch namespace holding the bridges, so nothing
 * touches the host's own network. The namespace prefix carries our pid so parallel runs don't
 * collide and crashed runs can be swept.
 */
export class Lab {
  readonly prefix: string;
  readonly nodes: LabNode[] = [];
  readonly workers: LabNode[] = [];
  readonly switchNs: string;
  readonly clientNs: string;
  readonly apiNs: string;
  readonly logDir: string;
  readonly processes: LabProcess[] = [];
  private readonly namespaces: string[] = [];
  private readonly nodeSpecs = new Map<
    string,
    { name: string; cmd: string; args: string[]; env: NodeJS.ProcessEnv | undefined }[]
  >();
  private destroyed = false;
  private readonly exitHandler = () => this.destroySync();

  private constructor(readonly options: LabOptions) {
    this.prefix = `${NS_PREFIX}${process.pid}-${randomBytes(2).toString("hex")}`;
    this.switchNs = `${this.prefix}-switch`;
    this.clientNs = `${this.prefix}-client`;
    this.apiNs = `${this.prefix}-api`;
    this.logDir = join(tmpdir(), `${FILE_PREFIX}${this.prefix}`);
  }

  static async create(options: LabOptions = {}): Promise<Lab> {
    sweepStaleLabs();
    installSignalTeardown();
    const lab = new Lab(options);
    liveLabs.add(lab);
    process.once("exit", lab.exitHandler);
    try {
      await lab.build();
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  node(name: string): LabNode {
    const node = [...this.nodes, ...this.workers].find((n) => n.name === name);
    if (!node) throw new Error(`no lab node named ${name}`);
    return node;
  }

  private async addNs(ns: string): Promise<void> {
    await run("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    // No DAD delay for IPv6 and answer ARP only for addresses on the asking interface.
    for (const [k, v] of [
      ["net.ipv6.conf.all.accept_dad", "0"],
      ["net.ipv6.conf.default.accept_dad", "0"],
      ["net.ipv4.conf.all.arp_ignore", "1"],
      ["net.ipv4.conf.all.rp_filter", "0"],
      ["net.ipv4.conf.default.rp_filter", "0"],
    ]) {
      await nsRun(ns, "sysctl", ["-qw", `${k}=${v}`]);
    }
  }

  /** veth pair: one end on a bridge in the switch namespace, the other named `ifName` in `ns`. */
  private async plug(ns: string, ifName: string, switchPort: string, bridge: string): Promise<void> {
    await run("ip", [
      "-n",
      this.switchNs,
      "link",
      "add",
      switchPort,
      "type",
      "veth",
      "peer",
      "name",
      ifName,
      "netns",
      ns,
    ]);
    await run("ip", ["-n", this.switchNs, "link", "set", switchPort, "master", bridge, "up"]);
    await run("ip", ["-n", ns, "link", "set", ifName, "up"]);
  }

  private async build(): Promise<void> {
    const count = this.options.nodeNames?.length ?? this.options.nodes ?? 3;
    const names = this.options.nodeNames ?? Array.from({ length: count }, (_, i) => `master-${i}`);
    mkdirSync(this.logDir, { recursive: true });
    await this.buildSwitch();
    for (const [i, name] of names.entries()) this.nodes.push(await this.buildNode(i, name));
    for (let w = 0; w < (this.options.workers ?? 0); w++) this.workers.push(await this.buildWorker(w));
    await this.buildClient();
    await this.buildApiRelay();
  }

  /** The switch namespace: one plain bridge per network. */
  private async buildSwitch(): Promise<void> {
    await this.addNs(this.switchNs);
    const bridges = ["br-pub", "br-int", ...(this.options.secondPublic ? ["br-pub2"] : [])];
    for (const br of bridges) {
      await run("ip", ["-n", this.switchNs, "link", "add", br, "type", "bridge", "forward_delay", "0"]);
      // No STP, no multicast snooping: frames (incl. NDP multicast) flow at once, like a plain switch.
      await run("ip", [
        "-n",
        this.switchNs,
        "link",
        "set",
        br,
        "type",
        "bridge",
        "stp_state",
        "0",
        "mcast_snooping",
        "0",
      ]);
      await run("ip", ["-n", this.switchNs, "link", "set", br, "up"]);
    }
  }

  /** A control-plane node: public (ens3, ens4) and internal (eth1) links, forwarding on. */
  private async buildNode(i: number, name: string): Promise<LabNode> {
    const node: LabNode = {
      index: i,
      role: "control-plane",
      name,
      ns: `${this.prefix}-${name}`,
      publicIp: nodePublicIp(i),
      publicIp6: nodePublicIp6(i),
      internalIp: nodeInternalIp(i),
      internalIp6: nodeInternalIp6(i),
      secondPublicIp: nodeSecondPublicIp(i),
      switchPorts: { public: `pub${i}`, internal: `int${i}`, secondPublic: `pubb${i}` },
    };
    await this.addNs(node.ns);
    await nsRun(node.ns, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    await nsRun(node.ns, "sysctl", ["-qw", "net.ipv6.conf.all.forwarding=1"]);
    await this.plug(node.ns, "ens3", node.switchPorts.public, "br-pub");
    await this.plug(node.ns, "eth1", node.switchPorts.internal, "br-int");
    await run("ip", ["-n", node.ns, "addr", "add", `${node.publicIp}/${PUBLIC_PREFIX_LEN}`, "dev", "ens3"]);
    await run("ip", [
      "-n",
      node.ns,
      "addr",
      "add",
      `${node.publicIp6}/${PUBLIC6_PREFIX_LEN}`,
      "dev",
      "ens3",
      "nodad",
    ]);
    await run("ip", [
      "-n",
      node.ns,
      "addr",
      "add",
      `${node.internalIp}/${INTERNAL_PREFIX_LEN}`,
      "dev",
      "eth1",
    ]);
    await run("ip", ["-n", node.ns, "addr", "add", `${node.internalIp6}/64`, "dev", "eth1", "nodad"]);
    if (this.options.secondPublic) {
      await this.plug(node.ns, "ens4", node.switchPorts.secondPublic, "br-pub2");
      await run("ip", [
        "-n",
        node.ns,
        "addr",
        "add",
        `${node.secondPublicIp}/${SECOND_PUBLIC_PREFIX_LEN}`,
        "dev",
        "ens4",
      ]);
    }
    return node;
  }

  /** A worker (the Envoy stand-in's node): on the internal network only. */
  private async buildWorker(w: number): Promise<LabNode> {
    const i = 10 + w;
    const worker: LabNode = {
      index: i,
      role: "worker",
      name: `worker-${w}`,
      ns: `${this.prefix}-worker-${w}`,
      publicIp: "",
      publicIp6: "",
      internalIp: nodeInternalIp(i),
      internalIp6: nodeInternalIp6(i),
      secondPublicIp: "",
      switchPorts: { public: "", internal: `wint${w}`, secondPublic: "" },
    };
    await this.addNs(worker.ns);
    await this.plug(worker.ns, "eth1", worker.switchPorts.internal, "br-int");
    await run("ip", [
      "-n",
      worker.ns,
      "addr",
      "add",
      `${worker.internalIp}/${INTERNAL_PREFIX_LEN}`,
      "dev",
      "eth1",
    ]);
    await run("ip", ["-n", worker.ns, "addr", "add", `${worker.internalIp6}/64`, "dev", "eth1", "nodad"]);
    return worker;
  }

  /** The client ("the Internet") on the public network(s). */
  private async buildClient(): Promise<void> {
    await this.addNs(this.clientNs);
    await this.plug(this.clientNs, "eth0", "client", "br-pub");
    await run("ip", ["-n", this.clientNs, "addr", "add", `${CLIENT_IP}/${PUBLIC_PREFIX_LEN}`, "dev", "eth0"]);
    await run("ip", [
      "-n",
      this.clientNs,
      "addr",
      "add",
      `${CLIENT_IP6}/${PUBLIC6_PREFIX_LEN}`,
      "dev",
      "eth0",
      "nodad",
    ]);
    if (this.options.secondPublic) {
      await this.plug(this.clientNs, "eth1", "clientb", "br-pub2");
      await run("ip", [
        "-n",
        this.clientNs,
        "addr",
        "add",
        `${CLIENT_SECOND_IP}/${SECOND_PUBLIC_PREFIX_LEN}`,
        "dev",
        "eth1",
      ]);
    }
    // The client accepts gratuitous ARP for addresses it has not asked about yet, like most routers.
    await nsRun(this.clientNs, "sysctl", ["-qw", "net.ipv4.conf.all.arp_accept=1"]);
  }

  /** The API server's relay on the internal network, when the lab has an API server. */
  private async buildApiRelay(): Promise<void> {
    if (this.options.apiSocket) {
      await this.addNs(this.apiNs);
      await this.plug(this.apiNs, "eth0", "api", "br-int");
      await run("ip", [
        "-n",
        this.apiNs,
        "addr",
        "add",
        `${API_RELAY_IP}/${INTERNAL_PREFIX_LEN}`,
        "dev",
        "eth0",
      ]);
      this.spawn(this.apiNs, undefined, "api-relay", "socat", [
        `TCP-LISTEN:${API_RELAY_PORT},bind=${API_RELAY_IP},reuseaddr,fork`,
        `UNIX-CONNECT:${this.options.apiSocket}`,
      ]);
    }
  }

  /** Starts a process inside a namespace; it dies with us (parent-death signal) and is logged to a file. */
  spawn(
    ns: string,
    node: string | undefined,
    name: string,
    cmd: string,
    args: string[],
    env?: NodeJS.ProcessEnv,
  ): LabProcess {
    const logFile = join(this.logDir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: "a" });
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", "ip", "netns", "exec", ns, cmd, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: env ?? process.env,
      // Relative module paths (e.g. `--import tsx`) resolve from the repository.
      cwd: repoRoot(),
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<number | null>((resolve) => {
      child.on("exit", (code) => resolve(code));
      child.on("error", () => resolve(-1));
    });
    // On 'close', not 'exit': what the child wrote just before exiting can still be in the pipe, and
    // writing it to an ended stream throws (ERR_STREAM_WRITE_AFTER_END) in whatever runs the lab.
    const end = () => {
      if (!log.writableEnded) log.end();
    };
    child.once("close", end);
    child.once("error", end);
    const proc: LabProcess = { name, node, ns, child, exited, logFile };
    this.processes.push(proc);
    return proc;
  }

  /** Starts a long-running process on a node and remembers how, so `restore` can restart it after a crash. */
  startOnNode(node: LabNode, name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): LabProcess {
    const specs = this.nodeSpecs.get(node.name) ?? [];
    specs.push({ name, cmd, args, env });
    this.nodeSpecs.set(node.name, specs);
    return this.spawn(node.ns, node.name, name, cmd, args, env);
  }

  /** Stops remembering a node process (it will not be restarted by `restore`). */
  forget(name: string): void {
    for (const [node, specs] of this.nodeSpecs)
      this.nodeSpecs.set(
        node,
        specs.filter((s) => s.name !== name),
      );
  }

  /** The newest process started under this name (after restarts, the live one). */
  latest(name: string): LabProcess | undefined {
    return [...this.processes].reverse().find((p) => p.name === name);
  }

  /** Restarts every remembered process of the node that is no longer running. */
  restartStopped(node: LabNode): LabProcess[] {
    const started: LabProcess[] = [];
    for (const spec of this.nodeSpecs.get(node.name) ?? []) {
      const current = this.latest(spec.name);
      if (current && current.child.exitCode === null && current.child.signalCode === null) continue;
      started.push(this.spawn(node.ns, node.name, spec.name, spec.cmd, spec.args, spec.env));
    }
    return started;
  }

  /** Runs a command to completion in the client namespace ("the Internet"). */
  client(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
    return nsRun(this.clientNs, cmd, args, { timeoutMs });
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroySync();
  }

  /** Immediate synchronous teardown (signal handlers). */
  destroyNow(): void {
    this.destroySync();
  }

  /** Synchronous so it also runs from an exit handler. Kills every process in our namespaces first. */
  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    liveLabs.delete(this);
    process.removeListener("exit", this.exitHandler);
    for (const p of this.processes) p.child.kill("SIGKILL");
    for (const ns of [...this.namespaces].reverse()) {
      killNamespaceProcesses(ns, "KILL");
      runQuietSync("ip", ["netns", "del", ns]);
    }
    keepLogs(this.logDir);
    rmSync(this.logDir, { recursive: true, force: true });
  }

  /** Namespaces this lab created that still exist (for tests of teardown). */
  static existingNamespaces(prefix: string): string[] {
    return runQuietSync("ip", ["netns", "list"])
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter((n) => n.startsWith(prefix));
  }
}

/**
 * FLOATIP_LAB_KEEP_LOGS=<dir>: copy each lab's process logs there before teardown removes them
 * (to read why a lab test failed on a machine whose temp dirs are gone).
 */
function keepLogs(logDir: string): void {
  const keep = process.env.FLOATIP_LAB_KEEP_LOGS;
  if (!keep) return;
  try {
    cpSync(logDir, join(keep, `${Date.now()}-${logDir.split("/").pop()}`), { recursive: true });
  } catch {
    // best effort: a missing log dir means the lab never started a process
  }
}
