import { waitFor } from "../src/common/wait.js";
import { collectProbes, proberArgs } from "../src/ops/probing.js";
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
    await waitFor(
      "the prober's first successful request",
      () => this.probes.some((p) => p.ok),
      timeoutMs,
      50,
    );
  }

  async stop(): Promise<Probe[]> {
    this.proc.child.kill("SIGTERM");
    await this.done;
    return [...this.probes].sort((a, b) => a.t - b.t);
  }
}
