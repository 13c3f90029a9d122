import { waitFor } from "../src/common/wait.js";
import { collectJsonLines, collectProbes, proberArgs, sessionProberArgs } from "../src/ops/probing.js";
import { DEFAULT_SESSION_OPTIONS, type SessionOptions, type SessionRun } from "../src/ops/sessions-client.js";
import type { SessionEvent } from "../src/ops/sessions.js";
import type { Probe } from "../src/ops/timeline.js";
import type { Lab } from "./lab.js";

/** A running prober in the client namespace; stop() returns every probe it made. */
export class ProbeRun {
  private readonly probes: Probe[] = [];
  private readonly done: Promise<void>;
  private readonly proc;

  constructor(lab: Lab, url: string, intervalMs = 10, timeoutMs = 1000, name = `prober-${Date.now()}`) {
    this.proc = lab.spawn(
      lab.clientNs,
      undefined,
      name,
      process.execPath,
      proberArgs(url, intervalMs, timeoutMs),
    );
    if (this.proc.child.stdout) collectProbes(this.proc.child.stdout, this.probes);
    this.done = this.proc.exited.then(() => undefined);
  }

  /** Probes so far (live view). */
  get results(): readonly Probe[] {
    return this.probes;
  }

  /** Resolves once the prober produced at least one successful probe. */
  async ready(timeoutMs = 30_000): Promise<void> {
    await waitFor("a successful request from the prober", () => this.probes.some((p) => p.ok), timeoutMs, 50);
  }

  async stop(): Promise<Probe[]> {
    this.proc.child.kill("SIGTERM");
    await this.done;
    return [...this.probes].sort((a, b) => a.t - b.t);
  }
}

/**
 * Long-lived keep-alive clients in the client namespace (src/ops/prober.ts --sessions), for the demo
 * and the benchmark; stop() returns every request's event.
 */
export class SessionsRun implements SessionRun {
  private readonly all: SessionEvent[] = [];
  private readonly done: Promise<void>;
  private readonly proc;
  readonly connections: number;

  constructor(lab: Lab, url: string, options: Partial<SessionOptions> = {}, name = `sessions-${Date.now()}`) {
    const opts = { ...DEFAULT_SESSION_OPTIONS, ...options };
    this.connections = opts.connections;
    this.proc = lab.spawn(lab.clientNs, undefined, name, process.execPath, sessionProberArgs(url, opts));
    if (this.proc.child.stdout) collectJsonLines(this.proc.child.stdout, this.all);
    this.done = this.proc.exited.then(() => undefined);
  }

  get events(): readonly SessionEvent[] {
    return this.all;
  }

  /** Resolves once every client has answered: each holds an established connection. */
  async ready(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `${this.connections} established connections`,
      () => new Set(this.all.filter((e) => e.outcome === "ok").map((e) => e.c)).size >= this.connections,
      timeoutMs,
      50,
    );
  }

  async stop(): Promise<SessionEvent[]> {
    this.proc.child.kill("SIGTERM");
    await this.done;
    return [...this.all].sort((a, b) => a.t - b.t);
  }
}
