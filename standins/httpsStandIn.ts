/**
 * A local HTTPS stand-in for an Azure REST API (Resource Manager, Batch). Each route states the
 * documented contract (method, path pattern, api-version) and answers with a handler; a request
 * that matches no route is answered 400 and recorded as a contract violation, so a test fails
 * loudly instead of passing against a stand-in that accepted anything.
 *
 * TLS: `npm test` and `npm run bench` create the certificate (scripts/tls.js) and trust it via
 * NODE_EXTRA_CA_CERTS.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined when the body was empty. */
  body: unknown;
  /** The stand-in's answer once sent, for checking it against the documented examples. */
  reply?: StandInReply;
}

export interface StandInReply {
  status: number;
  /** Sent as JSON, except a Buffer, which is sent as is (file downloads, octet-stream). */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE" | "HEAD";
  /** Matched against the whole path; named groups become `params`. */
  path: RegExp;
  /** The api-version the documented contract requires (checked exactly when given). */
  apiVersion?: string;
  handle(
    req: RecordedRequest,
    params: Record<string, string>,
  ): StandInReply | Promise<StandInReply>;
}

export interface StandIn {
  /** `https://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  requests: RecordedRequest[];
  /** Requests that matched no route or broke the route's api-version: should stay empty. */
  violations: string[];
  close(): Promise<void>;
}

export function tlsMaterial(): { key: Buffer; cert: Buffer } {
  const key = process.env.HPC_BATCH_TEST_TLS_KEY;
  const cert = process.env.HPC_BATCH_TEST_TLS_CERT;
  if (!key || !cert) {
    throw new Error("HTTPS stand-ins need the suite's certificate: run the tests with `npm test`");
  }
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

export async function startStandIn(routes: Route[]): Promise<StandIn> {
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  const server = https.createServer(tlsMaterial(), (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const url = new URL(req.url ?? "/", "https://127.0.0.1");
        const raw = Buffer.concat(chunks).toString("utf8");
        let body: unknown;
        try {
          body = raw.length > 0 ? JSON.parse(raw) : undefined;
        } catch {
          body = raw;
        }
        const rec: RecordedRequest = {
          method: req.method ?? "",
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
        };
        requests.push(rec);
        const reply = (r: StandInReply) => {
          rec.reply = r;
          // A Buffer is sent as is (file downloads); anything else as JSON.
          const text =
            r.body === undefined ? "" : Buffer.isBuffer(r.body) ? r.body : JSON.stringify(r.body);
          res.writeHead(r.status, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(text),
            ...r.headers,
          });
          res.end(text);
        };
        for (const route of routes) {
          const m = route.method === rec.method ? route.path.exec(rec.path) : null;
          if (!m) continue;
          const got = rec.query.get("api-version");
          if (route.apiVersion !== undefined && got !== route.apiVersion) {
            violations.push(`${rec.method} ${rec.path}: api-version ${got} != ${route.apiVersion}`);
            reply({
              status: 400,
              body: { error: { code: "InvalidApiVersion", message: String(got) } },
            });
            return;
          }
          try {
            reply(await route.handle(rec, { ...(m.groups ?? {}) }));
          } catch (err) {
            violations.push(`${rec.method} ${rec.path}: handler threw ${(err as Error).message}`);
            reply({ status: 500, body: { error: { code: "StandInError", message: String(err) } } });
          }
          return;
        }
        violations.push(`${rec.method} ${rec.path}: no route`);
        reply({
          status: 400,
          body: { error: { code: "NoRoute", message: `${rec.method} ${rec.path}` } },
        });
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    violations,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An ARM error reply: `{ error: { code, message, ...extra } }` with the status. */
export function armError(
  status: number,
  code: string,
  message: string,
  extra?: object,
): StandInReply {
  return { status, body: { error: { code, message, ...extra } } };
}

/** Who an ARM stand-in answers: the token it accepts and the one Batch account it holds. */
export interface ArmAccountScope {
  token: string;
  subscriptionId: string;
  resourceGroup: string;
  account: string;
}

/**
 * The first checks every ARM Batch stand-in makes: counts the request under `kind`, answers 401
 * `AuthenticationFailed` (a violation: hpc-batch always sends its token) to a missing or wrong
 * bearer token, and 404 `ResourceNotFound` to another subscription, group or account. Sources:
 * Microsoft Learn, "Troubleshoot common Azure deployment errors" (AuthenticationFailed: 401, no
 * valid token) and "Resolve resource not found errors" (ResourceNotFound: 404).
 */
export function checkArmCaller(
  scope: ArmAccountScope,
  state: { counts: Record<string, number>; violations: string[] },
  req: RecordedRequest,
  params: Record<string, string>,
  kind: string,
): StandInReply | undefined {
  state.counts[kind] = (state.counts[kind] ?? 0) + 1;
  if (req.headers.authorization !== `Bearer ${scope.token}`) {
    state.violations.push(`${kind}: authorization ${String(req.headers.authorization)}`);
    return armError(401, "AuthenticationFailed", "missing or wrong bearer token");
  }
  if (
    params.sub !== scope.subscriptionId ||
    params.rg !== scope.resourceGroup ||
    params.account !== scope.account
  ) {
    return armError(404, "ResourceNotFound", `${params.sub}/${params.rg}/${params.account}`);
  }
  return undefined;
}
