/**
 * Azurite (the Azure Storage emulator), started by the suite on a free port and stopped after it.
 * It runs over HTTPS with the suite's certificate and with basic OAuth, so both ways an
 * application package's `storageUrl` can authorise an upload are real:
 * - a SAS in the URL (auto-storage with storage keys), signed with the well-known emulator key;
 * - no SAS and an Entra bearer token (auto-storage with the Batch account's managed identity):
 *   Azurite's basic OAuth checks the token's lifetime, issuer and audience (not its signature),
 *   and refuses bearer tokens over plain HTTP, like Azure.
 *
 * `startFaultProxy` puts a plain-HTTP proxy in front of it that can fail chosen requests, to
 * exercise the storage SDK's retries and interrupted uploads.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import {
  BlobSASPermissions,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from "@azure/storage-blob";
import { tlsMaterial } from "./httpsStandIn";

/** The emulator's well-known account and key (documented by Microsoft, not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  /** The azurite-blob process. */
  pid: number;
  /** `https://127.0.0.1:<port>`. */
  origin: string;
  /** `https://127.0.0.1:<port>/devstoreaccount1`. */
  serviceUrl: string;
  /** A client with the account key, for arranging and checking blobs. */
  service: BlobServiceClient;
  /** The blob's URL without a SAS (the managed-identity form of a storageUrl). */
  blobUrl(container: string, blob: string): string;
  /** The blob's URL with a SAS (the storage-keys form of a storageUrl). */
  sasUrl(
    container: string,
    blob: string,
    opts?: { permissions?: string; expiresOn?: Date },
  ): string;
  stop(): Promise<void>;
}

/** An unsigned JWT that Azurite's basic OAuth accepts for Blob storage. */
export function fakeEntraToken(opts: { audience?: string; ttlSeconds?: number } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const claims = {
    aud: opts.audience ?? "https://storage.azure.com",
    iss: "https://sts.windows.net/00000000-0000-0000-0000-000000000000/",
    iat: now - 60,
    nbf: now - 60,
    exp: now + (opts.ttlSeconds ?? 3600),
    oid: "11111111-1111-1111-1111-111111111111",
    tid: "00000000-0000-0000-0000-000000000000",
  };
  return `${enc({ alg: "none", typ: "JWT" })}.${enc(claims)}.${enc({ sig: "test" })}`;
}

/**
 * Ends azurite-blob when the process that started it ends without `stop()` (a jest worker killed
 * after its grace period, a bench run stopped by Ctrl-C): its stdin is a pipe from that process,
 * which the system closes when it exits. Orphans were found holding 80 MB each, idle.
 */
const EXIT_WITH_PARENT = [
  "--import",
  // Unref'd: the pipe must not keep Azurite alive once stop()'s SIGTERM has closed its servers.
  'data:text/javascript,process.stdin.on("end",()=>process.exit(0)).resume().unref()',
];

export async function startAzurite(): Promise<Azurite> {
  // tlsMaterial() throws the suite's own message when the certificate is missing.
  tlsMaterial();
  // Found through the package, not a path from this file: it runs from standins/ (the suite) and
  // from dist/standins/ (`npm run bench`).
  const pkgFile = require.resolve("azurite/package.json");
  const { bin } = JSON.parse(fs.readFileSync(pkgFile, "utf8")) as { bin: Record<string, string> };
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...EXIT_WITH_PARENT,
      path.join(path.dirname(pkgFile), bin["azurite-blob"]),
      "--inMemoryPersistence",
      "--blobPort",
      "0",
      "--disableTelemetry",
      "--skipApiVersionCheck",
      "--silent",
      "--oauth",
      "basic",
      "--cert",
      process.env.HPC_BATCH_TEST_TLS_CERT!,
      "--key",
      process.env.HPC_BATCH_TEST_TLS_KEY!,
    ],
    // stdin: the pipe EXIT_WITH_PARENT watches.
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  // Nor may this end of it keep the starting process alive.
  (child.stdin as unknown as { unref(): void }).unref();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    let timedOut = false;
    // Kill a child that is slow to start so it is not orphaned; the exit handler then rejects.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /successfully listens on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          timedOut
            ? `azurite-blob did not start in 30 s: ${out}`
            : `azurite-blob exited (${code}): ${out}`,
        ),
      );
    });
  });
  // Keep draining its output so the pipe never fills.
  child.stdout!.resume();
  child.stderr!.resume();

  const origin = `https://127.0.0.1:${port}`;
  const serviceUrl = `${origin}/${AZURITE_ACCOUNT}`;
  const key = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  const blobUrl = (container: string, blob: string) =>
    `${serviceUrl}/${container}/${blob.split("/").map(encodeURIComponent).join("/")}`;
  return {
    pid: child.pid!,
    origin,
    serviceUrl,
    service: new BlobServiceClient(serviceUrl, key),
    blobUrl,
    sasUrl(container, blob, opts = {}) {
      const sas = generateBlobSASQueryParameters(
        {
          containerName: container,
          blobName: blob,
          permissions: BlobSASPermissions.parse(opts.permissions ?? "rcw"),
          startsOn: new Date(Date.now() - 5 * 60_000),
          expiresOn: opts.expiresOn ?? new Date(Date.now() + 4 * 3600_000),
        },
        key,
      ).toString();
      return `${blobUrl(container, blob)}?${sas}`;
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

export interface ProxiedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  /** The `comp` query parameter (`block`, `blocklist`, ...), or "" for a plain blob request. */
  comp: string;
  bytes: number;
}

/** What to do with a request: forward it, answer with a status, or cut the connection. */
export type FaultDecision = "forward" | { status: number } | "reset";

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: replace a URL's origin with this to route it through the proxy. */
  origin: string;
  requests: ProxiedRequest[];
  /** The most requests that were in flight at once. */
  maxInFlight(): number;
  /** Rewrites an Azurite URL to go through the proxy. */
  via(url: string): string;
  close(): Promise<void>;
}

/**
 * A proxy to Azurite that lets `decide` fail chosen requests: plain HTTP, or HTTPS with the
 * suite's certificate when `tls` is set (bearer tokens are only sent over HTTPS).
 */
export async function startFaultProxy(
  azurite: Azurite,
  decide: (req: ProxiedRequest, index: number) => FaultDecision,
  opts: { tls?: boolean } = {},
): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const target = new URL(azurite.origin);
  let inFlight = 0;
  let maxInFlight = 0;
  const handler: http.RequestListener = (req, res) => {
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    res.on("close", () => inFlight--);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? "/", "http://proxy");
      const rec: ProxiedRequest = {
        method: req.method ?? "",
        url: req.url ?? "/",
        comp: url.searchParams.get("comp") ?? "",
        bytes: body.length,
      };
      const index = requests.push(rec) - 1;
      const d = decide(rec, index);
      if (d === "reset") {
        req.socket.destroy();
        return;
      }
      if (d !== "forward") {
        // What Azure answers for a 403 before a role assignment applies, else a throttling error.
        const code = d.status === 403 ? "AuthorizationPermissionMismatch" : "ServerBusy";
        const text = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>injected by the test</Message></Error>`;
        res.writeHead(d.status, { "content-type": "application/xml", "x-ms-error-code": code });
        res.end(text);
        return;
      }
      const headers = { ...req.headers, host: target.host };
      const up = https.request(
        {
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers,
        },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on("error", () => req.socket.destroy());
      up.end(body);
    });
  };
  const server = opts.tls ? https.createServer(tlsMaterial(), handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const scheme = opts.tls ? "https" : "http";
  const origin = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    requests,
    maxInFlight: () => maxInFlight,
    via(url) {
      const u = new URL(url);
      return `${origin}${u.pathname}${u.search}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
