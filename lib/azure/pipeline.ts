/**
 * Shared adjustments to the Azure SDK's HTTP pipeline (@azure/core-rest-pipeline).
 */
import type { Pipeline } from "@azure/core-rest-pipeline";

/**
 * Removes the pipeline's `formDataPolicy`. hpc-batch's requests are JSON or bytes, never a form,
 * and the policy's check (`body instanceof FormData`) loads Node.js's bundled fetch (undici) on a
 * process's first request: about 25 ms of every command that calls Azure (node --cpu-prof).
 */
export function dropFormDataPolicy(pipeline: Pipeline): void {
  pipeline.removePolicy({ name: "formDataPolicy" });
}
