/**
 * Checks a request hpc-batch sent, and a stand-in's answer to it, against Azure's official
 * example for the operation (tests/fixtures/azure-rest-api-specs: copied unchanged from
 * Azure/azure-rest-api-specs, specification/batch/resource-manager/Microsoft.Batch/stable/
 * 2025-06-01/examples/). Each check returns the list of mismatches, so a test asserts `[]` (or the
 * exact documented exceptions) and a failure says which field differs.
 *
 * Shape means JSON types and key paths, not values: the examples' names and ids are samples.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { RecordedRequest, StandInReply } from "../../standins/httpsStandIn";

/** Where the vendored examples live (never read from outside the repository). */
export const EXAMPLES_DIR = path.join(
  __dirname,
  "..",
  "fixtures",
  "azure-rest-api-specs",
  "batch-2025-06-01",
);

/** An x-ms-examples file: the request's `parameters` and the documented answers by status. */
export interface RestExample {
  parameters: Record<string, unknown>;
  responses: Record<string, { headers?: Record<string, string>; body?: unknown }>;
}

export function loadExample(file: string): RestExample {
  return JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, file), "utf8")) as RestExample;
}

/** An operation as BatchManagement.json declares it: HTTP method and path template. */
export interface RestOperation {
  method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE";
  path: string;
  /** The example file the spec attaches to the operation (`x-ms-examples`). */
  example: string;
}

// Path templates copied from Azure/azure-rest-api-specs
// specification/batch/resource-manager/Microsoft.Batch/stable/2025-06-01/BatchManagement.json
// (`paths`), each with the operationId and example the spec gives it.
const ACCOUNT =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Batch/batchAccounts/{accountName}";
const APPLICATION = `${ACCOUNT}/applications/{applicationName}`;
const VERSIONS = `${APPLICATION}/versions`;
const VERSION = `${VERSIONS}/{versionName}`;

/** The operations hpc-batch calls itself, by operationId. */
export const OPERATIONS = {
  Application_Create: { method: "PUT", path: APPLICATION, example: "ApplicationCreate.json" },
  Application_Get: { method: "GET", path: APPLICATION, example: "ApplicationGet.json" },
  Application_Update: { method: "PATCH", path: APPLICATION, example: "ApplicationUpdate.json" },
  ApplicationPackage_Create: {
    method: "PUT",
    path: VERSION,
    example: "ApplicationPackageCreate.json",
  },
  ApplicationPackage_Get: { method: "GET", path: VERSION, example: "ApplicationPackageGet.json" },
  ApplicationPackage_List: {
    method: "GET",
    path: VERSIONS,
    example: "ApplicationPackageList.json",
  },
  ApplicationPackage_Activate: {
    method: "POST",
    path: `${VERSION}/activate`,
    example: "ApplicationPackageActivate.json",
  },
  ApplicationPackage_Delete: {
    method: "DELETE",
    path: VERSION,
    example: "ApplicationPackageDelete.json",
  },
  Pool_Update: {
    method: "PATCH",
    path: `${ACCOUNT}/pools/{poolName}`,
    example: "PoolUpdate_OtherProperties.json",
  },
} as const satisfies Record<string, RestOperation>;

export type OperationId = keyof typeof OPERATIONS;

/** BatchManagement.json names every `in: body` parameter `parameters`. */
const BODY_PARAMETER = "parameters";

type JsonType = "null" | "boolean" | "number" | "string" | "array" | "object";

function jsonType(v: unknown): JsonType {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v as JsonType;
}

/** What goes over the wire: `undefined` members dropped, dates as strings. */
const onTheWire = (v: unknown): unknown =>
  v === undefined ? undefined : JSON.parse(JSON.stringify(v));

/**
 * Compares `actual` with the example's values at the same place (`samples`: several for array
 * elements). Every key `actual` has must be in a sample with the same JSON type; with
 * `requireKeys`, every key all samples have must be in `actual` too.
 */
function compareShape(
  actual: unknown,
  samples: unknown[],
  at: string,
  requireKeys: boolean,
  out: string[],
): void {
  const types = [...new Set(samples.map(jsonType))];
  const type = jsonType(actual);
  if (!types.includes(type)) {
    out.push(`${at}: ${type}, the example has ${types.join(" or ")}`);
    return;
  }
  if (type === "object") {
    const objects = samples.filter((s) => jsonType(s) === "object") as Record<string, unknown>[];
    const own = actual as Record<string, unknown>;
    for (const [k, v] of Object.entries(own)) {
      const sub = objects.filter((o) => k in o).map((o) => o[k]);
      if (sub.length === 0) out.push(`${at}.${k}: not in the example`);
      else compareShape(v, sub, `${at}.${k}`, requireKeys, out);
    }
    if (requireKeys) {
      for (const k of Object.keys(objects[0])) {
        if (objects.every((o) => k in o) && !(k in own)) {
          out.push(`${at}.${k}: missing, the example always has it`);
        }
      }
    }
  } else if (type === "array") {
    const elements = samples.filter(Array.isArray).flat();
    (actual as unknown[]).forEach((e, i) => {
      if (elements.length === 0) out.push(`${at}[${i}]: the example's array is empty`);
      else compareShape(e, elements, `${at}[${i}]`, requireKeys, out);
    });
  }
}

/**
 * Mismatches between a recorded request and the operation's example: method, path (the template
 * filled with the request's values; each template parameter must be one the example names),
 * query (`api-version` equal to the example's, nothing the example does not name), body (sent iff
 * the example has one; every key path sent exists in the example with the same JSON type).
 */
export function requestMismatches(
  example: RestExample,
  op: Pick<RestOperation, "method" | "path">,
  req: RecordedRequest,
): string[] {
  const out: string[] = [];
  if (req.method !== op.method) out.push(`method: ${req.method}, the operation is ${op.method}`);

  const template = op.path.split("/");
  const got = req.path.split("/");
  const filled = template.map((seg, i) => {
    const param = /^\{(.+)\}$/.exec(seg)?.[1];
    if (param === undefined) return seg;
    if (!(param in example.parameters)) {
      out.push(`path parameter ${param}: not in the example's parameters`);
    }
    return got[i] ?? seg;
  });
  if (filled.join("/") !== req.path) {
    out.push(`path: ${req.path}, the template gives ${filled.join("/")}`);
  }

  const apiVersions = req.query.getAll("api-version");
  const wanted = String(example.parameters["api-version"]);
  if (apiVersions.length !== 1 || apiVersions[0] !== wanted) {
    out.push(`api-version: ${apiVersions.join(",") || "(none)"}, the example has ${wanted}`);
  }
  for (const k of new Set(req.query.keys())) {
    if (k !== "api-version" && !(k in example.parameters)) {
      out.push(`query ${k}: not in the example's parameters`);
    }
  }

  const exampleBody = example.parameters[BODY_PARAMETER];
  if (req.body === undefined && exampleBody !== undefined) {
    out.push("body: none sent, the example has one");
  } else if (req.body !== undefined && exampleBody === undefined) {
    out.push(`body: ${JSON.stringify(req.body)} sent, the example has none`);
  } else if (req.body !== undefined) {
    // A request may send fewer keys than the example (PATCH sends only what changes).
    compareShape(req.body, [exampleBody], "body", false, out);
  }
  return out;
}

/**
 * Mismatches between a stand-in's answer and the example's answer for the same status: the
 * status must be one the example documents, its headers must be there, a body must be sent iff
 * the example has one, every key answered must exist in the example with the same JSON type, and
 * every key the example always has (all elements of a list) must be answered.
 */
export function responseMismatches(
  example: RestExample,
  reply: StandInReply | undefined,
): string[] {
  if (reply === undefined) return ["reply: none recorded"];
  const documented = example.responses[String(reply.status)];
  if (documented === undefined) {
    return [
      `status ${reply.status}: not in the example (${Object.keys(example.responses).join(", ")})`,
    ];
  }
  const out: string[] = [];
  const sentHeaders = Object.keys(reply.headers ?? {}).map((h) => h.toLowerCase());
  for (const h of Object.keys(documented.headers ?? {})) {
    if (!sentHeaders.includes(h.toLowerCase()))
      out.push(`headers.${h}: missing, the example has it`);
  }
  const body = onTheWire(reply.body);
  if (body === undefined && documented.body !== undefined) {
    out.push("body: none sent, the example has one");
  } else if (body !== undefined && documented.body === undefined) {
    out.push(`body: ${JSON.stringify(body)} sent, the example has none`);
  } else if (body !== undefined) {
    compareShape(body, [documented.body], "body", true, out);
  }
  return out;
}
