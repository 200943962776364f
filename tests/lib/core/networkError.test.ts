import { describeBatchError } from "../../../lib/azure/batchData";
import { describeNetworkError } from "../../../lib/core/networkError";

const err = (fields: Record<string, unknown>) =>
  Object.assign(new Error(String(fields.message)), fields);

// Shapes as the SDKs throw them (captured against a closed port and an unresolvable host).
test.each<[string, Error, string]>([
  [
    "@azure/batch (ms-rest-js), refused: the URL only in the message",
    err({
      name: "FetchError",
      code: "ECONNREFUSED",
      message:
        "request to https://127.0.0.1:1/pools/p?api-version=2022-10-01.16.0 failed, reason: connect ECONNREFUSED 127.0.0.1:1",
    }),
    "cannot reach https://127.0.0.1:1 (ECONNREFUSED): nothing accepts connections there: check the endpoint's host and port",
  ],
  [
    "@azure/batch (ms-rest-js), unresolvable host",
    err({
      code: "REQUEST_SEND_ERROR",
      message:
        "request to https://hpcdev.westeurop.batch.azure.com/pools/p?api-version=2022-10-01.16.0 failed, reason: getaddrinfo ENOTFOUND hpcdev.westeurop.batch.azure.com",
      request: {
        url: "https://hpcdev.westeurop.batch.azure.com/pools/p?api-version=2022-10-01.16.0",
      },
    }),
    "cannot reach https://hpcdev.westeurop.batch.azure.com (ENOTFOUND): the host name does not resolve: check the endpoint for a typo, and the DNS or proxy settings (HTTPS_PROXY)",
  ],
  [
    "@azure/arm-batch (core-rest-pipeline), timed out",
    err({
      name: "RestError",
      code: "ETIMEDOUT",
      message: "connect ETIMEDOUT 10.0.0.4:443",
      request: {
        url: "https://management.azure.com/subscriptions/s/resourceGroups/rg?api-version=2025-06-01",
      },
    }),
    "cannot reach https://management.azure.com (ETIMEDOUT): no answer: a firewall or proxy is in the way, or the endpoint allows only private access (publicNetworkAccess Disabled)",
  ],
  [
    "a TLS-inspecting proxy",
    err({
      code: "SELF_SIGNED_CERT_IN_CHAIN",
      message: "self-signed certificate in certificate chain",
      request: { url: "https://hpcdev.westeurope.batch.azure.com/jobs" },
    }),
    "cannot reach https://hpcdev.westeurope.batch.azure.com (SELF_SIGNED_CERT_IN_CHAIN): its TLS certificate is not trusted: behind a TLS-inspecting proxy, set NODE_EXTRA_CA_CERTS to the proxy's CA certificate",
  ],
  [
    "a cut connection",
    err({ code: "ECONNRESET", message: "socket hang up", request: { url: "https://x.example/y" } }),
    "cannot reach https://x.example (ECONNRESET): the connection was cut: a proxy or firewall may be interfering; retry",
  ],
])("describeBatchError: %s", (_what, e, message) => {
  expect(describeBatchError(e)).toBe(message);
});

test("an answer from Batch is not a network error", () => {
  const answered = err({
    statusCode: 404,
    code: "PoolNotFound",
    message: "ECONNRESET in a message does not make it one",
    body: { code: "PoolNotFound", message: { value: "The specified pool does not exist." } },
  });
  expect(describeNetworkError(answered)).toBeUndefined();
  expect(describeBatchError(answered)).toBe(
    "HTTP 404: PoolNotFound: The specified pool does not exist.",
  );
});

test("without a URL in the error, the endpoint given names it", () => {
  expect(
    describeNetworkError(
      err({ code: "EAI_AGAIN", message: "getaddrinfo EAI_AGAIN login.microsoftonline.com" }),
      "https://login.microsoftonline.com",
    ),
  ).toBe(
    "cannot reach https://login.microsoftonline.com (EAI_AGAIN): the host name does not resolve: check the endpoint for a typo, and the DNS or proxy settings (HTTPS_PROXY)",
  );
  expect(describeNetworkError(new Error("something else"))).toBeUndefined();
  expect(describeNetworkError("ECONNREFUSED")).toBeUndefined();
});
