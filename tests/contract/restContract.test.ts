/** The contract helper itself: each check must be able to fail, with a message naming the field. */
import type { RecordedRequest, StandInReply } from "../../standins/httpsStandIn";
import {
  OPERATIONS,
  loadExample,
  requestMismatches,
  responseMismatches,
  type RestOperation,
} from "../support/restContract";

const ACCOUNT_PATH =
  "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Batch/batchAccounts/acct1";

/** A request as the stand-in would record it. */
function rec(method: string, pathAndQuery: string, body?: unknown): RecordedRequest {
  const url = new URL(pathAndQuery, "https://127.0.0.1");
  return { method, path: url.pathname, query: url.searchParams, headers: {}, body };
}

const Q = "?api-version=2025-06-01";
const APP = `${ACCOUNT_PATH}/applications/ffmpeg`;
const VERSION = `${APP}/versions/1.0.0`;
const createBody = { properties: { allowUpdates: false, displayName: "FFmpeg" } };

describe("requestMismatches", () => {
  const cases: [string, keyof typeof OPERATIONS, RecordedRequest, string[]][] = [
    ["a matching PUT application", "Application_Create", rec("PUT", APP + Q, createBody), []],
    [
      "a PATCH sending fewer keys than the example",
      "Application_Update",
      rec("PATCH", APP + Q, { properties: { defaultVersion: "1.0.0" } }),
      [],
    ],
    [
      "a wrong api-version",
      "Application_Create",
      rec("PUT", `${APP}?api-version=2024-07-01`, createBody),
      ["api-version: 2024-07-01, the example has 2025-06-01"],
    ],
    [
      "no api-version",
      "Application_Get",
      rec("GET", APP),
      ["api-version: (none), the example has 2025-06-01"],
    ],
    [
      "api-version twice",
      "Application_Get",
      rec("GET", `${APP}${Q}&api-version=2025-06-01`),
      ["api-version: 2025-06-01,2025-06-01, the example has 2025-06-01"],
    ],
    [
      "a query parameter the example does not name",
      "ApplicationPackage_List",
      rec("GET", `${APP}/versions${Q}&maxresults=10`),
      ["query maxresults: not in the example's parameters"],
    ],
    [
      "an extra body key",
      "Application_Create",
      rec("PUT", APP + Q, { properties: { allowUpdates: false, allowUpdate: false } }),
      ["body.properties.allowUpdate: not in the example"],
    ],
    [
      "an extra top-level body key",
      "ApplicationPackage_Activate",
      rec("POST", `${VERSION}/activate${Q}`, { format: "zip", properties: {} }),
      ["body.properties: not in the example"],
    ],
    [
      "a body key of the wrong type",
      "Application_Create",
      rec("PUT", APP + Q, { properties: { allowUpdates: "false" } }),
      ["body.properties.allowUpdates: string, the example has boolean"],
    ],
    [
      "a wrong type inside an array element",
      "Pool_Update",
      rec("PATCH", `${ACCOUNT_PATH}/pools/pool1${Q}`, {
        properties: { applicationPackages: [{ id: "x", version: 1 }] },
      }),
      ["body.properties.applicationPackages[0].version: number, the example has string"],
    ],
    [
      "a body where the example has none (PUT version)",
      "ApplicationPackage_Create",
      rec("PUT", VERSION + Q, {}),
      ["body: {} sent, the example has none"],
    ],
    [
      "no body where the example has one (POST activate)",
      "ApplicationPackage_Activate",
      rec("POST", `${VERSION}/activate${Q}`),
      ["body: none sent, the example has one"],
    ],
    [
      "a body that is not JSON",
      "ApplicationPackage_Activate",
      rec("POST", `${VERSION}/activate${Q}`, "zip"),
      ["body: string, the example has object"],
    ],
    [
      "a wrong method",
      "ApplicationPackage_Create",
      rec("POST", VERSION + Q),
      ["method: POST, the operation is PUT"],
    ],
    [
      "a wrong literal segment",
      "Application_Get",
      rec("GET", `${APP.replace("batchAccounts", "batchaccounts")}${Q}`),
      [`path: ${APP.replace("batchAccounts", "batchaccounts")}, the template gives ${APP}`],
    ],
    [
      "a path with a segment too many",
      "ApplicationPackage_Get",
      rec("GET", `${VERSION}/activate${Q}`),
      [`path: ${VERSION}/activate, the template gives ${VERSION}`],
    ],
  ];
  test.each(cases)("%s", (_name, id, req, expected) => {
    const op = OPERATIONS[id];
    expect(requestMismatches(loadExample(op.example), op, req)).toEqual(expected);
  });

  test("a template parameter the example does not name", () => {
    const op: RestOperation = {
      method: "GET",
      path: `${OPERATIONS.Application_Get.path}/pools/{poolName}`,
      example: "ApplicationGet.json",
    };
    expect(
      requestMismatches(loadExample(op.example), op, rec("GET", `${APP}/pools/p1${Q}`)),
    ).toEqual(["path parameter poolName: not in the example's parameters"]);
  });
});

describe("responseMismatches", () => {
  const etag = { ETag: 'W/"0x1"' };
  const app = {
    id: APP,
    name: "ffmpeg",
    type: "Microsoft.Batch/batchAccounts/applications",
    etag: 'W/"0x1"',
    properties: { allowUpdates: false, displayName: "FFmpeg" },
  };
  const pending = {
    id: VERSION,
    name: "1.0.0",
    type: "Microsoft.Batch/batchAccounts/applications/versions",
    etag: 'W/"0x1"',
    properties: { state: "Pending" },
  };
  const active = {
    ...pending,
    properties: { state: "Active", format: "zip", lastActivationTime: "2025-01-01T00:00:00Z" },
  };
  const cases: [string, string, StandInReply | undefined, string[]][] = [
    [
      "the example's own shape",
      "ApplicationGet.json",
      { status: 200, body: app, headers: etag },
      [],
    ],
    [
      "a header name in another case",
      "ApplicationGet.json",
      { status: 200, body: app, headers: { etag: 'W/"0x1"' } },
      [],
    ],
    [
      "no ETag header",
      "ApplicationGet.json",
      { status: 200, body: app },
      ["headers.ETag: missing, the example has it"],
    ],
    [
      "a missing key",
      "ApplicationGet.json",
      { status: 200, body: { ...app, etag: undefined }, headers: etag },
      ["body.etag: missing, the example always has it"],
    ],
    [
      "a missing nested key",
      "ApplicationGet.json",
      { status: 200, body: { ...app, properties: { displayName: "x" } }, headers: etag },
      ["body.properties.allowUpdates: missing, the example always has it"],
    ],
    [
      "a key the example does not have",
      "ApplicationPackageGet.json",
      {
        status: 200,
        body: { ...active, properties: { ...active.properties, storageUrl: "https://x" } },
        headers: etag,
      },
      ["body.properties.storageUrl: not in the example"],
    ],
    [
      "a key of the wrong type",
      "ApplicationGet.json",
      { status: 200, body: { ...app, properties: { allowUpdates: "false" } }, headers: etag },
      [
        "body.properties.allowUpdates: string, the example has boolean",
        "body.properties.displayName: missing, the example always has it",
      ],
    ],
    [
      "a status the example does not document",
      "ApplicationCreate.json",
      { status: 201, body: app, headers: etag },
      ["status 201: not in the example (200)"],
    ],
    ["no reply", "ApplicationGet.json", undefined, ["reply: none recorded"]],
    ["DELETE answered 200 without a body", "ApplicationPackageDelete.json", { status: 200 }, []],
    ["DELETE answered 204 without a body", "ApplicationPackageDelete.json", { status: 204 }, []],
    [
      "DELETE answered with a body",
      "ApplicationPackageDelete.json",
      { status: 200, body: {} },
      ["body: {} sent, the example has none"],
    ],
    [
      "GET answered without a body",
      "ApplicationPackageGet.json",
      { status: 200, headers: etag },
      ["body: none sent, the example has one"],
    ],
    [
      "a list: a Pending element needs only what every element of the example has",
      "ApplicationPackageList.json",
      { status: 200, body: { value: [pending, active] } },
      [],
    ],
    [
      "a list element missing a key every element has",
      "ApplicationPackageList.json",
      { status: 200, body: { value: [{ ...pending, properties: {} }] } },
      ["body.value[0].properties.state: missing, the example always has it"],
    ],
    [
      "a single GET: keys of the one example are all required",
      "ApplicationPackageGet.json",
      { status: 200, body: pending, headers: etag },
      [
        "body.properties.format: missing, the example always has it",
        "body.properties.lastActivationTime: missing, the example always has it",
      ],
    ],
    [
      "members that are undefined are not on the wire",
      "ApplicationCreate.json",
      {
        status: 200,
        body: { ...app, properties: { ...app.properties, defaultVersion: undefined } },
        headers: etag,
      },
      [],
    ],
  ];
  test.each(cases)("%s", (_name, file, reply, expected) => {
    expect(responseMismatches(loadExample(file), reply)).toEqual(expected);
  });
});

describe("each vendored example passes its own checks", () => {
  test.each(Object.entries(OPERATIONS))("%s", (_id, op) => {
    const example = loadExample(op.example);
    const filled = op.path.replace(/\{(\w+)\}/g, (_m, p: string) =>
      encodeURIComponent(String(example.parameters[p])),
    );
    const req = rec(
      op.method,
      `${filled}?api-version=${String(example.parameters["api-version"])}`,
      example.parameters.parameters,
    );
    expect(requestMismatches(example, op, req)).toEqual([]);
    for (const [status, documented] of Object.entries(example.responses)) {
      const reply = { status: Number(status), ...documented };
      expect(responseMismatches(example, reply)).toEqual([]);
    }
  });
});
