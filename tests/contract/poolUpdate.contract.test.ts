/**
 * The pool's in-place change (components/poolSettingsProvider.ts `patchPool`, operation Pool_Update)
 * against the ARM pool stand-in, checked against Azure's official example
 * PoolUpdate_OtherProperties.json (tests/fixtures/azure-rest-api-specs/batch-2025-06-01): the
 * PATCH has the example's path, api-version and body shape, and the answer has the example's shape.
 */
import { staticTokenCredential } from "../../lib/azure/credentials";
import { patchPool } from "../../components/poolSettingsProvider";
import { startArmPoolStandIn } from "../../standins/armPoolStandIn";
import { fakeEntraToken } from "../../standins/azurite";
import type { RecordedRequest } from "../../standins/httpsStandIn";
import {
  OPERATIONS,
  loadExample,
  requestMismatches,
  responseMismatches,
} from "../support/restContract";
import { armIds } from "../support/fakeAzure";

const SUB = "00000000-0000-0000-0000-0000000000aa";
const RG = "rg-hpc";
const ACCOUNT = "bahpc01";
const POOL = "hpcpool";
const APP_ID = armIds(SUB).application(RG, ACCOUNT, "ffmpeg");
const token = fakeEntraToken();
const op = OPERATIONS.Pool_Update;
const example = loadExample(op.example);

/**
 * The pool as the example answers it, without the package references: the answer's
 * `applicationPackages` then come from the stand-in applying the PATCH.
 */
function poolBeforeTheChange(): Record<string, unknown> {
  const body = example.responses["200"].body as { properties: Record<string, unknown> };
  const properties = { ...body.properties };
  delete properties.applicationPackages;
  return properties;
}

// hpc-batch PATCHes scaleSettings, startTask and applicationPackages; this example covers the
// package references (PoolUpdate_ResizePool.json and PoolUpdate_RemoveStartTask.json, not vendored,
// would cover the other two).
test("package references: the PATCH and its answer match PoolUpdate_OtherProperties", async () => {
  // The application's default version, and a pinned version of another application.
  const properties = {
    applicationPackages: [{ id: APP_ID }, { id: `${APP_ID}2`, version: "1.0.0" }],
  };
  const arm = await startArmPoolStandIn({
    subscriptionId: SUB,
    resourceGroup: RG,
    account: ACCOUNT,
    token,
    pools: { [POOL]: poolBeforeTheChange() },
  });
  try {
    await patchPool(
      {
        endpoint: arm.url,
        credential: staticTokenCredential(token),
        subscriptionId: SUB,
        resourceGroup: RG,
        account: ACCOUNT,
      },
      POOL,
      { properties },
    );
    const requests: RecordedRequest[] = arm.requests;
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `PATCH /subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Batch/batchAccounts/${ACCOUNT}/pools/${POOL}`,
    ]);
    expect(requests[0].body).toEqual({ properties });
    expect(requestMismatches(example, op, requests[0])).toEqual([]);
    expect(responseMismatches(example, requests[0].reply)).toEqual([]);
    // The shape check passes on any references: these must be the ones sent.
    expect(
      (requests[0].reply?.body as { properties: Record<string, unknown> }).properties
        .applicationPackages,
    ).toEqual(properties.applicationPackages);
    expect(arm.violations).toEqual([]);
  } finally {
    await arm.close();
  }
});
