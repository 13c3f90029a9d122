import { DEFAULT_FANOUT } from "../election/fanout.js";
import { Command, Option } from "commander";
import { hostname } from "node:os";
import { OWNERSHIP_MODES } from "../election/ranking.js";
import { SPEAKER_DEFAULTS } from "../speaker/defaults.js";
import { FORWARD_DEFAULTS } from "../speaker/forward-plan.js";
import { readHeartbeatKeys, type HeartbeatKeyFiles, type HeartbeatKeys } from "../speaker/heartbeat-keys.js";
import type { SpeakerConfig } from "../speaker/speaker.js";
import { createLogger } from "./logger.js";
import {
  checkFanoutOwnership,
  checkSpeakerTimings,
  integerArg,
  kubeconfigOption,
  lbClassOption,
  lbClassValue,
  metricsAddressOption,
  namespaceOption,
} from "./options.js";

const int = integerArg(0);
const positive = integerArg(1);

/** A public key for --insecure-heartbeats: the packets stay well-formed, but anyone can forge them. */
const INSECURE_HEARTBEAT_KEY = Buffer.from("floatip insecure heartbeats");

/** Heartbeats are always authenticated; running without a secret key takes an explicit flag. */
function readKeys(
  opts: { heartbeatKeyFile?: string; heartbeatAcceptKeyFile?: string; insecureHeartbeats?: boolean },
  log: { warn: (obj: object, msg: string) => void },
): { keys: HeartbeatKeys; files?: HeartbeatKeyFiles } {
  if (opts.heartbeatKeyFile) {
    const files = { key: opts.heartbeatKeyFile, accept: opts.heartbeatAcceptKeyFile };
    return { keys: readHeartbeatKeys(files), files };
  }
  if (opts.heartbeatAcceptKeyFile) throw new Error("--heartbeat-accept-key-file needs --heartbeat-key-file");
  if (!opts.insecureHeartbeats) {
    throw new Error(
      "no heartbeat key: pass --heartbeat-key-file (the chart mounts one from its Secret; generate one with " +
        "`head -c 32 /dev/urandom > key`) and the same key to every speaker, or --insecure-heartbeats",
    );
  }
  log.warn(
    { event: "insecureHeartbeats" },
    "heartbeats use a public key (--insecure-heartbeats): anyone on the network can forge them",
  );
  return { keys: { key: INSECURE_HEARTBEAT_KEY } };
}

/** The speaker's settings as flags: its config, with the key as a file (or the insecure switch). */
type SpeakerFlags = Omit<
  SpeakerConfig,
  | "heartbeatKey"
  | "heartbeatAcceptKey"
  | "heartbeatKeyFiles"
  | "garpScheduleMs"
  | "podName"
  | "podUid"
  | "forward"
  | "heartbeatFanout"
> & {
  kubeconfig?: string;
  handoverForwarding: boolean;
  heartbeatFanout: "all" | "sparse";
  forwardIdleMs: number;
  forwardLimitMs: number;
  heartbeatKeyFile?: string;
  heartbeatAcceptKeyFile?: string;
  insecureHeartbeats?: boolean;
};

// eslint-disable-next-line max-lines-per-function -- one declarative option list: splitting it would scatter the flags over helpers
export function speakerCommand(): Command {
  return new Command("speaker")
    .description("Run the per-node speaker: answer ARP/NDP for owned floating IPs and fail over fast")
    .addOption(kubeconfigOption())
    .addOption(new Option("--node-name <name>", "this node's name").env("NODE_NAME").default(hostname()))
    .addOption(namespaceOption())
    .addOption(lbClassOption())
    .option(
      "--heartbeat-port <port>",
      "UDP port for speaker heartbeats",
      integerArg(1, 65535),
      SPEAKER_DEFAULTS.heartbeatPort,
    )
    .option("--heartbeat-address <ip>", "address peers send heartbeats to (default: the Node's InternalIP)")
    .option(
      "--heartbeat-interval-ms <ms>",
      "heartbeat period (below --suspect-after-ms)",
      positive,
      SPEAKER_DEFAULTS.heartbeatIntervalMs,
    )
    .addOption(
      new Option(
        "--heartbeat-key-file <path>",
        "shared secret that authenticates heartbeats (HMAC-SHA256); read again every 5 s (a rotation needs no restart)",
      ).env("FLOATIP_HEARTBEAT_KEY_FILE"),
    )
    .option(
      "--heartbeat-accept-key-file <path>",
      "a second key whose heartbeats are accepted too, while a key rotation rolls out (a missing or empty file: none); read again every 5 s",
    )
    .option(
      "--insecure-heartbeats",
      "run without a heartbeat key (a fixed public key: anyone on the network can forge heartbeats)",
    )
    .option(
      "--suspect-after-ms <ms>",
      "heartbeat silence before a peer is declared dead",
      positive,
      SPEAKER_DEFAULTS.suspectAfterMs,
    )
    .option(
      "--max-suspect-after-ms <ms>",
      "ceiling of the adaptive suspicion timeout for jittery peers",
      positive,
      SPEAKER_DEFAULTS.maxSuspectAfterMs,
    )
    .option(
      "--nice <n>",
      "scheduling priority to ask for (negative = higher; needs CAP_SYS_NICE)",
      integerArg(-20, 19),
      SPEAKER_DEFAULTS.nice,
    )
    .option(
      "--rejoin-after-ms <ms>",
      "continuous contact before a returning node may own IPs",
      int,
      SPEAKER_DEFAULTS.rejoinAfterMs,
    )
    .option("--lease-duration-ms <ms>", "node Lease duration", positive, SPEAKER_DEFAULTS.leaseDurationMs)
    .option("--lease-renew-ms <ms>", "node Lease renewal period", positive, SPEAKER_DEFAULTS.leaseRenewMs)
    .option(
      "--handover-timeout-ms <ms>",
      "longest make-before-break overlap",
      int,
      SPEAKER_DEFAULTS.handoverTimeoutMs,
    )
    .addOption(
      new Option(
        "--ownership <mode>",
        "sticky: an IP stays with its owner while it is alive and eligible; strict: MetalLB's ranking (a restored node takes its IPs back)",
      )
        .choices(OWNERSHIP_MODES)
        .default(SPEAKER_DEFAULTS.ownership),
    )
    .addOption(
      new Option(
        "--heartbeat-fanout <mode>",
        "all: every speaker heartbeats every other (quorum of all speakers); sparse: quorum of 5 voters (nodes labelled floatip.io/heartbeat-voter=true first, then the lowest name hashes), fast heartbeats only between an owner, its successors and the voters (large clusters; needs --ownership strict)",
      )
        .choices(["all", "sparse"])
        .default(SPEAKER_DEFAULTS.heartbeatFanout),
    )
    .option(
      "--no-exclude-cordoned",
      "keep announcing from cordoned nodes (default: cordon/drain moves the IP away)",
    )
    .option(
      "--no-handover-forwarding",
      "after a planned move, do not send packets of established connections to the previous owner (needs NET_ADMIN)",
    )
    .option(
      "--forward-idle-ms <ms>",
      "end a handover's forwarding after this long without a forwarded packet",
      int,
      FORWARD_DEFAULTS.idleMs,
    )
    .option(
      "--forward-limit-ms <ms>",
      "end a handover's forwarding this long after the move in any case",
      int,
      FORWARD_DEFAULTS.limitMs,
    )
    .addOption(
      metricsAddressOption(
        SPEAKER_DEFAULTS.metricsAddress,
        "/metrics, /healthz, /readyz, /state; host InternalIP = the Node's InternalIP",
      ),
    )
    .action(runSpeaker);
}

/** The speaker until SIGTERM/SIGINT. */
async function runSpeaker(opts: SpeakerFlags): Promise<void> {
  checkSpeakerTimings(opts);
  checkFanoutOwnership(opts);
  // Loaded here, not at the top: other subcommands (the controller) should not pay for them.
  const { KubeApi } = await import("../kube/api.js");
  const { loadConnection } = await import("../kube/connection.js");
  const { nativeAvailable, nativeLoadError } = await import("../native/rawsocket.js");
  const { Speaker } = await import("../speaker/speaker.js");
  const log = createLogger("speaker");
  if (!nativeAvailable()) throw new Error(nativeLoadError() ?? "native addon not available");
  const api = new KubeApi(await loadConnection(opts.kubeconfig));
  const { keys, files } = readKeys(opts, log);
  const speaker = new Speaker(
    api,
    {
      nodeName: opts.nodeName,
      namespace: opts.namespace,
      lbClass: lbClassValue(opts.lbClass),
      heartbeatPort: opts.heartbeatPort,
      heartbeatAddress: opts.heartbeatAddress,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      heartbeatKey: keys.key,
      heartbeatAcceptKey: keys.accept,
      heartbeatKeyFiles: files,
      suspectAfterMs: opts.suspectAfterMs,
      maxSuspectAfterMs: opts.maxSuspectAfterMs,
      nice: opts.nice,
      rejoinAfterMs: opts.rejoinAfterMs,
      leaseDurationMs: opts.leaseDurationMs,
      leaseRenewMs: opts.leaseRenewMs,
      handoverTimeoutMs: opts.handoverTimeoutMs,
      excludeCordoned: opts.excludeCordoned,
      ownership: opts.ownership,
      heartbeatFanout: opts.heartbeatFanout === "sparse" ? DEFAULT_FANOUT : undefined,
      metricsAddress: opts.metricsAddress,
      podName: process.env.POD_NAME,
      podUid: process.env.POD_UID,
      forward: opts.handoverForwarding
        ? { idleMs: opts.forwardIdleMs, limitMs: opts.forwardLimitMs }
        : undefined,
    },
    log,
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ event: "signal", signal }, "graceful shutdown");
    speaker.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ event: "stopFailed", error: String(err) }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  await speaker.start();
}
