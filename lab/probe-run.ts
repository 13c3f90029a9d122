import { join } from "node:path";
import { repoRoot } from "../testenv/binaries.js";
import type { Probe } from "../src/ops/timeline.js";
import type { Lab } from "./lab.js";

/** A running prober in the client namespace; stop() returns every probe it made. */
export class ProbeRun {
  private readonly probes: Probe[] = [];
  private buffer = "";
  private readonly done: Promise<void>;
  private readonly proc;

  constructor(lab: Lab, url: string, intervalMs = 10, timeoutMs = 1000, name = `prober-${Date.now()}`) {
    this.proc = lab.spawn(lab.clientNs, undefined, name, process.execPath, [
      "--import",
      "tsx",
      join(repoRoot(), "lab", "prober.ts"),
      url,
      String(intervalMs),
      String(timeoutMs),
    ]);
    this.proc.child.stdout?.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        try {
          this.probes.push(JSON.parse(line) as Probe);
        } catch {
          // not a probe line
        }
      }
    });
    this.done = this.proc.exited.then(() => undefined);
  }

  /** Probes so far (live view). */
  get results(): readonly Probe[] {
    return this.probes;
  }

  /** Resolves once the prober produced at least one successful probe. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.probes.some((p) => p.ok)) {
      if (Date.now() > deadline) throw new Error("prober saw no successful request");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<Probe[]> {
    this.proc.child.kill("SIGTERM");
    await this.done;
    return [...this.probes].sort((a, b) => a.t - b.t);
  }
}
