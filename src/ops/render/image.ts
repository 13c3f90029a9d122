// The floatip image the rendered values install: repository plus a tag or a digest. No public
// image exists, so the default (the chart's, what `podman build -t floatip` names) gets a warning.
import type { Reader } from "./reader.js";

export interface ImageRef {
  repository: string;
  tag?: string;
  digest?: string;
}

/** The chart's default repository: a local build's name that no cluster can pull. */
export const DEFAULT_IMAGE_REPOSITORY = "localhost/floatip";

const REPOSITORY = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function readImage(r: Reader): ImageRef {
  r.rejectUnknown(["repository", "tag", "digest"]);
  const repository = r.string("repository", DEFAULT_IMAGE_REPOSITORY, "e.g. registry.example.com/floatip");
  if (!REPOSITORY.test(repository))
    r.problem(
      r.field("repository"),
      `${JSON.stringify(repository)} is not an image repository`,
      "e.g. registry.example.com/platform/floatip",
    );
  const tag = r.has("tag") ? r.string("tag", "", "e.g. 0.1.0") : undefined;
  if (tag !== undefined && !TAG.test(tag))
    r.problem(r.field("tag"), `${JSON.stringify(tag)} is not an image tag`, "e.g. 0.1.0");
  const digest = r.has("digest") ? r.string("digest", "", "sha256:<64 hex digits>") : undefined;
  if (digest !== undefined && !DIGEST.test(digest))
    r.problem(
      r.field("digest"),
      `${JSON.stringify(digest)} is not an image digest`,
      "sha256:<64 hex digits> (`podman inspect --format '{{.Digest}}'`)",
    );
  return { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The chart's `image` values: only what the config sets. */
export function imageValues(image: ImageRef): Record<string, string> {
  return {
    repository: image.repository,
    ...(image.tag !== undefined ? { tag: image.tag } : {}),
    ...(image.digest !== undefined ? { digest: image.digest } : {}),
  };
}

export function imageWarning(image: ImageRef): string | undefined {
  if (image.repository !== DEFAULT_IMAGE_REPOSITORY) return undefined;
  return (
    `image.repository is the default ${DEFAULT_IMAGE_REPOSITORY}, a local build's name no cluster can pull: ` +
    "build deploy/Containerfile, push it to your registry and set image.repository (and image.tag or image.digest)"
  );
}
