/**
 * A package-only release (a new application version) changes nothing in the pool: the pool
 * references the application without a version, so its default version reaches nodes when they
 * join, reboot or are reimaged, and neither azure-native's Pool nor the pool's PATCH resource
 * sees a difference (no request to the pool on `pulumi up`). See docs/publishing.md.
 */
import { simulateDevStack, type DevStackRun } from "./support/devStack";

const PACKAGE_TYPE = "pulumi-nodejs:dynamic/batch:ApplicationPackageVersion";
const SETTINGS_TYPE = "pulumi-nodejs:dynamic/batch:PoolSettings";
const POOL = "azure-native:batch:Pool";

const inputsOf = (run: DevStackRun, type: string, name?: string) =>
  run.registrations
    .filter((r) => r.type === type && (name === undefined || r.name === name))
    .map((r) => ({ name: r.name, inputs: r.inputs, options: r.options }));

test("two releases with different versions register the same pool and pool settings", async () => {
  const first = await simulateDevStack({
    config: { "hpc-batch:batchApplicationVersion": "3.1.0" },
  });
  const second = await simulateDevStack({
    config: { "hpc-batch:batchApplicationVersion": "3.2.0" },
  });

  // The release itself differs...
  const versions = (run: DevStackRun) =>
    run.registrations.filter((r) => r.type === PACKAGE_TYPE).map((r) => r.inputs.version);
  expect(versions(first)).toEqual(["3.1.0"]);
  expect(versions(second)).toEqual(["3.2.0"]);

  // ...the pool does not, nor its in-place settings.
  const pool = inputsOf(first, POOL);
  expect(pool).toHaveLength(1);
  expect(inputsOf(second, POOL)).toEqual(pool);
  const settings = inputsOf(first, SETTINGS_TYPE);
  expect(settings).toHaveLength(1);
  expect(inputsOf(second, SETTINGS_TYPE)).toEqual(settings);

  // The reference names the application, not a version.
  expect(pool[0].inputs.applicationPackages).toEqual([
    {
      id: expect.stringMatching(
        /\/providers\/Microsoft\.Batch\/batchAccounts\/[a-z0-9]+\/applications\/ffmpeg$/,
      ),
    },
  ]);
});
