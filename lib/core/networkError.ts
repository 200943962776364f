/**
 * Network failures in words a person can act on: which endpoint could not be reached and the
 * likely cause, instead of `connect ECONNREFUSED 10.0.0.4:443` or an SDK's FetchError. Both SDKs
 * hpc-batch uses are covered: @azure/core-rest-pipeline (RestError: `code` is the socket error,
 * `request.url` the URL) and @azure/ms-rest-js (`code` REQUEST_SEND_ERROR or the socket error,
 * the URL in `request to <url> failed, reason: ...`).
 */

/** Socket and TLS error codes (Node's `err.code`), each with its likely cause. */
const CAUSES: readonly (readonly [readonly string[], string])[] = [
  [
    ["ENOTFOUND", "EAI_AGAIN"],
    "the host name does not resolve: check the endpoint for a typo, and the DNS or proxy settings (HTTPS_PROXY)",
  ],
  [["ECONNREFUSED"], "nothing accepts connections there: check the endpoint's host and port"],
  [
    ["ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH"],
    "no answer: a firewall or proxy is in the way, or the endpoint allows only private access (publicNetworkAccess Disabled)",
  ],
  [
    ["ECONNRESET", "EPIPE"],
    "the connection was cut: a proxy or firewall may be interfering; retry",
  ],
  [
    [
      "CERT_HAS_EXPIRED",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
      "SELF_SIGNED_CERT_IN_CHAIN",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "ERR_TLS_CERT_ALTNAME_INVALID",
    ],
    "its TLS certificate is not trusted: behind a TLS-inspecting proxy, set NODE_EXTRA_CA_CERTS to the proxy's CA certificate",
  ],
];

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * `cannot reach <origin> (<code>): <likely cause>` for a network failure, or undefined for any
 * other error. `endpoint` names the endpoint when the error carries no URL.
 */
export function describeNetworkError(err: unknown, endpoint?: string): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as {
    code?: unknown;
    message?: unknown;
    statusCode?: unknown;
    request?: { url?: unknown };
  };
  // A status code means the endpoint answered: not a network failure.
  if (typeof e.statusCode === "number") return undefined;
  const message = typeof e.message === "string" ? e.message : "";
  const text = `${typeof e.code === "string" ? e.code : ""} ${message}`;
  for (const [codes, cause] of CAUSES) {
    const code = codes.find((c) => new RegExp(`\\b${c}\\b`).test(text));
    if (code === undefined) continue;
    const url =
      (typeof e.request?.url === "string" ? e.request.url : undefined) ??
      /request to (\S+) failed/.exec(message)?.[1] ??
      endpoint;
    return `cannot reach ${url ? originOf(url) : "the endpoint"} (${code}): ${cause}`;
  }
  return undefined;
}
