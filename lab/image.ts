import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { repoRoot } from "../testenv/binaries.js";
import type { ControlPlane } from "../testenv/controlplane.js";
import { applyObjects, kubectl, serviceAccountToken } from "../testenv/kubectl.js";
import { API_RELAY_IP, API_RELAY_PORT } from "./addresses.js";
import {
  installableObjects,
  renderChart,
  resolveEnv,
  type ChartRender,
  type ContainerSpec,
} from "./chart-pods.js";

/** floatip's image, built by testenv/build-image.sh and unpacked: its root file system and config. */
export interface FloatipImage {
  dir: string;
  rootfs: string;
  /** localhost/floatip:<key>, the tag the lab gives the chart. */
  name: string;
  entrypoint: string[];
  env: string[];
  workingDir: string;
}

let build: Promise<FloatipImage> | undefined;

/** What to run by hand when the image cannot be built here. */
export const BUILD_IMAGE_COMMAND = "testenv/build-image.sh   (scripts/setup.sh runs it)";

/**
 * Builds (cold: minutes) or finds (warm: instant) the image of the current sources. `progress` gets
 * the build's own step lines ([build-image] …, STEP n/m: …) while it builds; warm, it gets none.
 */
export function floatipImage(progress: (line: string) => void = () => {}): Promise<FloatipImage> {
  build ??= runBuild(progress).then(readImage);
  return build;
}

function runBuild(progress: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(repoRoot(), "testenv", "build-image.sh"), [], {
      cwd: repoRoot(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    createInterface({ input: child.stderr }).on("line", (line) => {
      stderr = (stderr + line + "\n").slice(-8000);
      if (/^(\[build-image\]|(\[\d+\/\d+\] )?STEP \d+\/\d+:)/.test(line)) progress(line);
    });
    const fail = (why: string) =>
      reject(
        new Error(
          `building floatip's image failed (${why}); run ${BUILD_IMAGE_COMMAND} to see the whole build:\n${stderr.slice(-4000)}`,
        ),
      );
    child.on("error", (err) => fail(err.message));
    child.on("close", (code, signal) => {
      if (code === 0) resolve(stdout.trim().split("\n").pop() ?? "");
      else fail(signal ? `killed by ${signal}` : `exit code ${code}`);
    });
  });
}

function readImage(dir: string): FloatipImage {
  const inspect = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as {
    FromImage: string;
    OCIv1: { config: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string } };
  };
  const config = inspect.OCIv1.config;
  return {
    dir,
    rootfs: join(dir, "rootfs"),
    name: inspect.FromImage,
    entrypoint: config.Entrypoint ?? [],
    env: config.Env ?? [],
    workingDir: config.WorkingDir ?? "/",
  };
}

/**
 * A container as the kubelet and a runtime would start it, without either (podman/crun cannot run
 * here: cgroups v1 hybrid mode). In the process's own mount namespace: the image's root file
 * system under a tmpfs-backed overlay (the shared cache stays untouched), mounted read-only when
 * the chart says so; /proc, /sys (of the node's network namespace, as `ip netns exec` mounts it), a
 * minimal /dev; the chart's Secret volumes and the ServiceAccount token where the kubelet puts them.
 * Then chroot and the image's own setpriv: the chart's user and group, no supplementary groups, the
 * bounding set cut to the capabilities the chart adds (root gets exactly those; any other user none),
 * no_new_privs for allowPrivilegeEscalation: false, and the image's entrypoint with the chart's args.
 * Not reproduced: seccomp RuntimeDefault, cgroups (limits), a PID namespace.
 */
const RUN_SCRIPT = `set -e
scratch=$1; rootfs=$2; readonly=$3; mounts=$4; shift 4
mount -t tmpfs -o mode=700 container "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
root="$scratch/root"
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$scratch/upper,workdir=$scratch/work" "$root"
mkdir -p "$root/proc" "$root/sys" "$root/dev"
mount --rbind /proc "$root/proc"
mount --rbind /sys "$root/sys"
mount -o remount,bind,ro "$root/sys"
mount -t tmpfs -o nosuid,noexec,mode=755 dev "$root/dev"
for d in null zero full random urandom; do touch "$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done
while IFS='|' read -r src dst; do
  [ -n "$src" ] || continue
  # Inside the image (/var/run is a symlink to /run there): never follow a link out of it.
  chroot "$root" mkdir -p "$dst"
  target="$root$(chroot "$root" realpath "$dst")"
  mount --bind "$src" "$target"
  mount -o remount,bind,ro "$target"
done < "$mounts"
if [ "$readonly" = true ]; then mount -o remount,bind,ro "$root"; fi
exec chroot "$root" "$@"
`;

export interface ContainerLaunch {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** Runs the chart's containers from the image in the lab: ServiceAccounts, tokens, Secrets, launch lines. */
export class ImageRunner {
  private constructor(
    readonly image: FloatipImage,
    readonly chart: ChartRender,
    private readonly cp: ControlPlane,
    private readonly namespace: string,
    private readonly dir: string,
  ) {}

  /**
   * Builds or finds the image, renders the chart for it (`sets`: extra --set values) and installs
   * what `helm install` would except the workloads: ServiceAccounts, RBAC, the heartbeat Secret, Services.
   */
  static async prepare(
    cp: ControlPlane,
    dir: string,
    namespace: string,
    sets: string[],
  ): Promise<ImageRunner> {
    const image = await floatipImage();
    const [repository, tag] = splitImage(image.name);
    const chart = await renderChart(cp.binaries.helm, namespace, [
      `image.repository=${repository}`,
      `image.tag=${tag}`,
      ...sets,
    ]);
    for (const c of [chart.speaker, chart.controller]) {
      if (c.image !== image.name)
        throw new Error(`the chart's ${c.workload} runs ${c.image}, the lab built ${image.name}`);
    }
    await applyObjects(cp, installableObjects(chart));
    mkdirSync(dir, { recursive: true });
    return new ImageRunner(image, chart, cp, namespace, dir);
  }

  /**
   * The launch line for one pod of the container: `fields` are the pod's field references
   * (spec.nodeName, status.podIP, …) that differ per pod.
   */
  async launch(spec: ContainerSpec, pod: string, fields: Record<string, string>): Promise<ContainerLaunch> {
    const dir = join(this.dir, pod);
    mkdirSync(dir, { recursive: true });
    const mounts = [
      `${await this.serviceAccountDir(spec.serviceAccount, dir)}|/var/run/secrets/kubernetes.io/serviceaccount`,
    ];
    for (const s of spec.secrets)
      mounts.push(`${await this.secretDir(s.secretName, s.items, s.mode, dir)}|${s.mountPath}`);
    const mountsFile = join(dir, "mounts");
    writeFileSync(mountsFile, mounts.join("\n") + "\n");
    mkdirSync(join(dir, "scratch"), { recursive: true });

    const env = resolveEnv(spec.env, {
      "metadata.namespace": this.namespace,
      "metadata.name": pod,
      "metadata.uid": randomUUID(),
      ...fields,
    });
    const args = (spec.command ?? this.image.entrypoint).concat(spec.args).map((a) => expandVars(a, env));
    const setpriv = [
      "/usr/bin/setpriv",
      ...(spec.user !== undefined ? ["--reuid", String(spec.user)] : []),
      ...(spec.group !== undefined ? ["--regid", String(spec.group)] : []),
      "--clear-groups",
      "--inh-caps",
      "-all",
      "--bounding-set",
      ["-all", ...spec.capabilities.map((c) => `+${c}`)].join(","),
      ...(spec.noNewPrivileges ? ["--no-new-privs"] : []),
      // setpriv changes the user before this, which clears an inherited parent-death signal.
      "--pdeathsig",
      "KILL",
      "--",
      "/usr/bin/env",
      "-C",
      this.image.workingDir,
      ...args,
    ];
    return {
      cmd: "unshare",
      args: [
        ...["--mount", "--propagation", "private", "sh", "-c", RUN_SCRIPT, "container"],
        ...[join(dir, "scratch"), this.image.rootfs, String(spec.readOnlyRoot), mountsFile, ...setpriv],
      ],
      // The container's environment only: the image's, the chart's, and what the kubelet adds.
      env: {
        ...Object.fromEntries(
          this.image.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
        ),
        // The lab's `kubernetes` Service has no endpoints (no kubelet registers the API server's
        // address), so the in-cluster address is the relay every node reaches the API server by.
        KUBERNETES_SERVICE_HOST: API_RELAY_IP,
        KUBERNETES_SERVICE_PORT: String(API_RELAY_PORT),
        // As runc does: HOME from the image's /etc/passwd for the user, "/" when it has no entry.
        HOME: this.home(spec.user ?? 0),
        ...env,
      },
    };
  }

  private home(uid: number): string {
    const passwd = readFileSync(join(this.image.rootfs, "etc", "passwd"), "utf8");
    const entry = passwd.split("\n").find((l) => l.split(":")[2] === String(uid));
    return entry?.split(":")[5] || "/";
  }

  /** The projected ServiceAccount volume: a token from the TokenRequest API, the CA, the namespace. */
  private async serviceAccountDir(sa: string, podDir: string): Promise<string> {
    const dir = join(podDir, "serviceaccount");
    mkdirSync(dir, { recursive: true });
    const token = await serviceAccountToken(this.cp, this.namespace, sa);
    writeFileSync(join(dir, "token"), token, { mode: 0o644 });
    writeFileSync(join(dir, "ca.crt"), readFileSync(this.cp.certs.caCert), { mode: 0o644 });
    writeFileSync(join(dir, "namespace"), this.namespace, { mode: 0o644 });
    return dir;
  }

  /** A Secret volume as the kubelet writes it (decoded keys, the volume's mode), read from the API. */
  private async secretDir(
    name: string,
    items: Record<string, string> | undefined,
    mode: number,
    podDir: string,
  ): Promise<string> {
    const dir = join(podDir, `secret-${name}`);
    mkdirSync(dir, { recursive: true });
    const secret = JSON.parse(
      await kubectl(this.cp, ["get", "secret", name, "-n", this.namespace, "-o", "json"]),
    ) as {
      data?: Record<string, string>;
    };
    // No items: every key under its own name, as the kubelet does.
    const files = items ?? Object.fromEntries(Object.keys(secret.data ?? {}).map((k) => [k, k]));
    for (const [file, key] of Object.entries(files)) {
      const value = secret.data?.[key];
      if (value === undefined) throw new Error(`Secret ${this.namespace}/${name} has no key ${key}`);
      writeFileSync(join(dir, file), Buffer.from(value, "base64"), { mode });
    }
    return dir;
  }
}

function splitImage(name: string): [string, string] {
  const at = name.lastIndexOf(":");
  return [name.slice(0, at), name.slice(at + 1)];
}

/** The kubelet's $(VAR) expansion in command and args ($$ escapes; unknown names stay as written). */
export function expandVars(arg: string, env: Record<string, string>): string {
  return arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    name === undefined ? "$" : (env[name] ?? m),
  );
}
