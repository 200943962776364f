/**
 * Uploads a package zip to an application version's `storageUrl` as a block blob: the file is read
 * block by block (never whole), blocks go up in parallel, each request is retried on transient
 * errors by the storage SDK's retry policy, and the blob exists only once the block list is
 * committed, so an interrupted upload never leaves a partial blob that could be activated.
 *
 * Resumable: block ids are derived from the block's index and content hash, so a re-run finds the
 * blocks an interrupted run staged (`getBlockList`), stages only what is missing, then commits.
 * The zip's sha256 is stored as blob metadata (`sha256`) for no-op detection without Pulumi state.
 *
 * Authentication: the SAS in `storageUrl` when there is one (auto-storage with storage keys),
 * otherwise an Entra token (auto-storage with the Batch account's managed identity).
 */
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import type { BlockBlobClient, StoragePipelineOptions } from "@azure/storage-blob";
import type { Pipeline } from "@azure/core-rest-pipeline";
import type { TokenCredential } from "@azure/identity";
import { armSdk, storageBlobSdk } from "./azureSdk";
import { STORAGE_SCOPE } from "./credentials";
import { dropFormDataPolicy } from "./pipeline";

/** Blob metadata key holding the zip's sha256 (hex). */
export const SHA256_METADATA_KEY = "sha256";
/** Default block size: 4 MiB (a 68 MB zip is 17 blocks; Azure allows up to 4000 MiB). */
export const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
/**
 * Default number of blocks in flight: 4, near the storage SDK's own default for uploadFile (5).
 * Measured on 2 cores against Azurite (`hpc-batch publish` of the 24 MB ffmpeg zip, 3 runs
 * each): 2 to 5 in flight take 1.1-1.3 s, 8 take 1.5-1.6 s (8 x 4 MiB buffers, hashed and
 * sent at once, compete for the cores with TLS).
 */
export const DEFAULT_CONCURRENCY = 4;
/**
 * How long a token upload waits out 403s before giving up: a role assignment made moments
 * earlier (the stack grants the deployer blob access on first deploy) can take minutes to apply.
 */
export const DEFAULT_ACCESS_WAIT_MS = 10 * 60_000; // Azure RBAC: "up to 10 minutes" to apply

export interface UploadProgress {
  /** Bytes sent in this run. */
  sent: number;
  /** Bytes found already staged by an earlier run (not sent again). */
  reused: number;
  total: number;
}

/** The storage SDK's retry settings (StorageRetryOptions), with this module's defaults. */
export interface UploadRetryOptions {
  /** Attempts per request, first included. Defaults to 5. */
  maxTries?: number;
  /** First back-off delay. Defaults to 500 ms (exponential, capped by maxRetryDelayInMs). */
  retryDelayInMs?: number;
  /** Back-off cap. Defaults to 10 s. */
  maxRetryDelayInMs?: number;
  /** Time limit of one attempt. Defaults to 120 s. */
  tryTimeoutInMs?: number;
}

/**
 * A file still being written, uploaded as it grows (lib/package/zip's GrowingZip fits): each
 * block is read once `until` says its bytes are final.
 */
export interface GrowingFile {
  /** The file being written. */
  partialPath: string;
  /** Where it is renamed to once complete, if it is (read there when the partial is gone). */
  path?: string;
  /**
   * Resolves once the bytes from `start` to `end` are final, or with the file's size once
   * complete.
   */
  until(end: number, start: number): Promise<{ complete?: number }>;
}

export interface UploadOptions {
  /** The zip on disk, or one still being written. */
  file: string | GrowingFile;
  /** The version's storage URL (with or without a SAS). */
  storageUrl: string;
  /**
   * The zip's sha256 (hex), stored as blob metadata; a promise for a file still being written
   * (awaited before the commit: a rejection leaves the blocks uncommitted, no blob).
   */
  sha256: string | Promise<string>;
  /** Used when `storageUrl` carries no SAS. */
  credential?: TokenCredential;
  blockSize?: number;
  concurrency?: number;
  retry?: UploadRetryOptions;
  onProgress?: (p: UploadProgress) => void;
  /** Token uploads only: how long to retry 403s (RBAC propagation). Defaults to 10 minutes. */
  accessWaitMs?: number;
  /** Pause between those retries. Defaults to 15 s. */
  accessPollMs?: number;
  /** Called before each such retry with the time waited so far. */
  onAccessWait?: (waitedMs: number) => void;
  abortSignal?: AbortSignal;
}

export interface UploadResult {
  bytes: number;
  /** Bytes sent in this run (0 when everything was already staged). */
  bytesSent: number;
  blocks: number;
  /** Blocks found staged by an earlier run and reused. */
  blocksReused: number;
}

/** True when the URL carries a SAS (its `sig` parameter). */
export function hasSas(url: string): boolean {
  return new URL(url).searchParams.has("sig");
}

/** The URL without its query string, safe to print (a SAS is a secret). */
export function redactUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/**
 * A block id: base64 of `<index, 6 digits>-<first 40 hex of the block's sha256>`. Every id has the
 * same length, as Azure requires within one blob.
 */
export function blockId(index: number, blockSha256Hex: string): string {
  return Buffer.from(`${String(index).padStart(6, "0")}-${blockSha256Hex.slice(0, 40)}`).toString(
    "base64",
  );
}

/**
 * Loads the storage SDK now (about 0.1 s, synchronous), for a caller that knows an upload comes
 * next and has a request on the wire to hide the load behind.
 */
export function loadUploadSdk(): void {
  storageBlobSdk();
}

/** A client for the blob behind a storage URL, authenticated by its SAS or by `credential`. */
export function blobClient(
  storageUrl: string,
  credential: TokenCredential | undefined,
  retry: UploadRetryOptions = {},
): BlockBlobClient {
  const options: StoragePipelineOptions = {
    retryOptions: {
      maxTries: retry.maxTries ?? 5,
      retryDelayInMs: retry.retryDelayInMs ?? 500,
      maxRetryDelayInMs: retry.maxRetryDelayInMs ?? 10_000,
      tryTimeoutInMs: retry.tryTimeoutInMs ?? 120_000,
    },
    userAgentOptions: { userAgentPrefix: "hpc-batch" },
  };
  // Loaded on first use (./azureSdk), not with this module: a command that never uploads (help,
  // an unchanged publish, a plan) does not pay for it.
  const { AnonymousCredential, BlockBlobClient } = storageBlobSdk();
  let client: BlockBlobClient;
  if (hasSas(storageUrl)) {
    client = new BlockBlobClient(storageUrl, new AnonymousCredential(), options);
  } else {
    if (!credential) throw noCredentialError(storageUrl);
    client = new BlockBlobClient(storageUrl, credential, options);
  }
  // The client's HTTP pipeline is on its protocol-layer context (a protected member of
  // @azure/storage-blob's StorageClient, which offers no public way to remove a policy): without
  // its form-data policy, the first upload does not load Node.js's fetch (about 30 ms). Should a
  // later SDK version move it, the client keeps the policy (slower, same requests; a test says).
  const context = (client as unknown as { storageClientContext?: { pipeline?: Pipeline } })
    .storageClientContext;
  if (context?.pipeline) dropFormDataPolicy(context.pipeline);
  return client;
}

/**
 * The Blob service version of the one read below (Get Blob Properties, which answers the blob's
 * metadata as `x-ms-meta-*` headers in every version since 2009-09-19).
 */
export const BLOB_PROPERTIES_VERSION = "2024-11-04";

/**
 * The committed blob's size and recorded sha256, or undefined when no blob is committed.
 * One HEAD (Get Blob Properties) through @azure/core-rest-pipeline, which the ARM client has
 * already loaded, instead of @azure/storage-blob: an unchanged publish reads nothing else from
 * storage, and loading the storage SDK was a fifth of that command's CPU time (node --cpu-prof).
 * Failures are the SDK's RestError with the status and storage's `x-ms-error-code`, as before.
 */
export async function readBlobDigest(
  storageUrl: string,
  credential?: TokenCredential,
  retry: UploadRetryOptions = {},
): Promise<{ bytes: number; sha256?: string } | undefined> {
  const { rest } = armSdk();
  const sas = hasSas(storageUrl);
  if (!sas && !credential) throw noCredentialError(storageUrl);
  const pipeline = rest.createPipelineFromOptions({
    retryOptions: {
      maxRetries: (retry.maxTries ?? 5) - 1,
      retryDelayInMs: retry.retryDelayInMs ?? 500,
      maxRetryDelayInMs: retry.maxRetryDelayInMs ?? 10_000,
    },
    userAgentOptions: { userAgentPrefix: "hpc-batch" },
  });
  dropFormDataPolicy(pipeline);
  if (!sas && credential) {
    pipeline.addPolicy(rest.bearerTokenAuthenticationPolicy({ credential, scopes: STORAGE_SCOPE }));
  }
  const request = rest.createPipelineRequest({
    url: storageUrl,
    method: "HEAD",
    headers: rest.createHttpHeaders({ "x-ms-version": BLOB_PROPERTIES_VERSION }),
    timeout: retry.tryTimeoutInMs ?? 120_000,
    // As @azure/storage-blob allows: a SAS URL may be http (a local emulator); a token never is
    // sent over http (the bearer policy refuses it).
    allowInsecureConnection: sas,
  });
  const response = await pipeline.sendRequest(rest.createDefaultHttpClient(), request);
  if (response.status === 404) return undefined;
  if (response.status >= 300) {
    const code = response.headers.get("x-ms-error-code") ?? undefined;
    throw new rest.RestError(
      `reading the properties of ${redactUrl(storageUrl)} failed: HTTP ${response.status}` +
        (code ? ` ${code}` : ""),
      { statusCode: response.status, code, request, response },
    );
  }
  return {
    bytes: Number(response.headers.get("content-length") ?? 0),
    sha256: response.headers.get(`x-ms-meta-${SHA256_METADATA_KEY}`) ?? undefined,
  };
}

function noCredentialError(storageUrl: string): Error {
  return new Error(
    `the storage URL ${redactUrl(storageUrl)} carries no SAS (managed-identity auto-storage): ` +
      "an Entra token with Storage Blob Data Contributor on the storage account is needed",
  );
}

/** Block ids (with sizes) already staged or committed for the blob; empty when it has none. */
async function stagedBlocks(client: BlockBlobClient): Promise<Map<string, number>> {
  try {
    const list = await client.getBlockList("all");
    const out = new Map<string, number>();
    for (const b of [...(list.committedBlocks ?? []), ...(list.uncommittedBlocks ?? [])]) {
      out.set(b.name, b.size);
    }
    return out;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return new Map();
    throw err;
  }
}

/**
 * Storage's code for a token it accepted but a role that does not (yet) allow the write. Not
 * AuthorizationFailure: that one also means a firewall rule, which waiting does not fix.
 */
const NOT_YET_AUTHORIZED = new Set(["AuthorizationPermissionMismatch"]);
/** Storage's codes for a token it does not accept at all (wrong audience, expired, malformed). */
const NOT_AUTHENTICATED = new Set(["AuthenticationFailed", "InvalidAuthenticationInfo"]);

/**
 * Runs `request`, retrying while `accessWaitMs` lasts when a token upload is refused for lack of
 * a role: that is how a fresh role assignment looks until it applies. A token storage does not
 * accept at all fails at once, saying which token is needed. With a SAS, every refusal is final.
 */
async function untilAccessible<T>(opts: UploadOptions, request: () => Promise<T>): Promise<T> {
  const sas = hasSas(opts.storageUrl);
  const waitMs = sas ? 0 : (opts.accessWaitMs ?? DEFAULT_ACCESS_WAIT_MS);
  const pollMs = opts.accessPollMs ?? 15_000;
  const started = Date.now();
  for (;;) {
    try {
      return await request();
    } catch (err) {
      const { statusCode, code } = err as { statusCode?: number; code?: string };
      const waited = Date.now() - started;
      if (
        statusCode === 403 &&
        code !== undefined &&
        NOT_YET_AUTHORIZED.has(code) &&
        waited + pollMs <= waitMs
      ) {
        opts.onAccessWait?.(waited);
        await new Promise((resolve) => setTimeout(resolve, pollMs));
        opts.abortSignal?.throwIfAborted();
        continue;
      }
      if (!sas && (statusCode === 401 || (code !== undefined && NOT_AUTHENTICATED.has(code)))) {
        throw Object.assign(
          new Error(
            `storage refused the token for ${redactUrl(opts.storageUrl)} (${statusCode} ${code ?? ""}): ` +
              "the upload needs an Entra token for https://storage.azure.com/.default; with " +
              "AZURE_ACCESS_TOKEN (a Resource Manager token) also set AZURE_STORAGE_ACCESS_TOKEN",
          ),
          { statusCode, code },
        );
      }
      throw err;
    }
  }
}

/**
 * Opens a growing file: the partial while it is written, else (renamed already: a small file can
 * be complete before the upload starts) the complete file, once `until` says it is complete.
 */
async function openGrowing(growing: GrowingFile): Promise<FileHandle> {
  try {
    return await open(growing.partialPath, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT" || growing.path === undefined) throw err;
    // A failed build removed the partial: `until` rejects with its error.
    await growing.until(Number.MAX_SAFE_INTEGER, 0);
    return open(growing.path, "r");
  }
}

export async function uploadPackage(opts: UploadOptions): Promise<UploadResult> {
  // Awaited only once every block is staged: a rejection before then (a build failing with its
  // file, which rejects the upload first) must not also be an unhandled rejection, which ends
  // the process. The await below still receives it.
  if (typeof opts.sha256 !== "string") opts.sha256.catch(() => undefined);
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  const client = blobClient(opts.storageUrl, opts.credential, opts.retry);
  const growing = typeof opts.file === "string" ? undefined : opts.file;
  const name = typeof opts.file === "string" ? opts.file : opts.file.partialPath;
  const file = growing ? await openGrowing(growing) : await open(name, "r");
  try {
    // A growing file's size is known once it is complete.
    let total = growing ? undefined : (await file.stat()).size;
    const blocks = (size: number) => Math.max(1, Math.ceil(size / blockSize));
    const staged = await untilAccessible(opts, () => stagedBlocks(client));
    const ids: string[] = [];
    const progress: UploadProgress = { sent: 0, reused: 0, total: total ?? 0 };
    let blocksReused = 0;
    let next = 0;
    let failed = false;

    const stageNext = async () => {
      // One buffer per worker, reused for each of its blocks (a block is sent before the next
      // read): fresh memory costs a page fault per 4 KiB on first touch (lib/core/fileDigest).
      let buffer: Buffer | undefined;
      while (!failed && (total === undefined || next < blocks(total))) {
        const index = next++;
        const offset = index * blockSize;
        if (growing && total === undefined) {
          const { complete } = await growing.until(offset + blockSize, offset);
          if (complete !== undefined) {
            total = complete;
            progress.total = complete;
          }
          if (total !== undefined && index >= blocks(total)) return;
        }
        const length = total === undefined ? blockSize : Math.min(blockSize, total - offset);
        buffer ??= Buffer.allocUnsafe(blockSize);
        const block = buffer.subarray(0, length);
        let read = 0;
        while (read < length) {
          const r = await file.read(block, read, length - read, offset + read);
          if (r.bytesRead === 0) throw new Error(`${name} shrank while it was uploaded`);
          read += r.bytesRead;
        }
        const id = blockId(index, createHash("sha256").update(block).digest("hex"));
        ids[index] = id;
        if (staged.get(id) === length) {
          blocksReused++;
          progress.reused += length;
        } else {
          opts.abortSignal?.throwIfAborted();
          await client.stageBlock(id, block, length, {
            transactionalContentMD5: createHash("md5").update(block).digest(),
            abortSignal: opts.abortSignal,
          });
          progress.sent += length;
        }
        opts.onProgress?.({ ...progress });
      }
    };
    // One failure (after the SDK's retries) stops the other workers from starting new blocks.
    const worker = () =>
      stageNext().catch((err: unknown) => {
        failed = true;
        throw err;
      });
    await Promise.all(
      Array.from(
        { length: total === undefined ? concurrency : Math.min(concurrency, blocks(total)) },
        worker,
      ),
    );
    const sha256 = await opts.sha256;
    opts.abortSignal?.throwIfAborted();
    const count = blocks(total as number);
    if (ids.length !== count || ids.includes(undefined as unknown as string)) {
      throw new Error(`${name}: ${ids.filter(Boolean).length} of ${count} blocks staged`);
    }
    await client.commitBlockList(ids, {
      metadata: { [SHA256_METADATA_KEY]: sha256 },
      blobHTTPHeaders: { blobContentType: "application/zip" },
      abortSignal: opts.abortSignal,
    });
    return { bytes: total as number, bytesSent: progress.sent, blocks: count, blocksReused };
  } finally {
    await file.close();
  }
}
