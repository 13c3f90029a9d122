/** CPU load for the benchmarks that must hold on a busy machine: processes spinning at 100 %. */
import { spawn, type ChildProcess } from "node:child_process";

export interface Burners {
  count: number;
  stop(): void;
}

/** `count` spinning Node processes, killed with their parent (pdeathsig) even if it dies first. */
export function startBurners(count: number): Burners {
  const procs: ChildProcess[] = Array.from({ length: count }, () =>
    spawn("setpriv", ["--pdeathsig", "KILL", "--", process.execPath, "-e", "for(;;){}"], { stdio: "ignore" }),
  );
  return {
    count,
    stop: () => {
      for (const p of procs) p.kill("SIGKILL");
    },
  };
}
