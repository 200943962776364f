/**
 * Where an interrupted publish left its upload: the storageUrl the version's PUT answered, kept
 * beside the zip (`<zip folder>/.pending/<key>.json`) until the version is active.
 *
 * Why: a Pending version of a locked application (`allowUpdates: false`) cannot be PUT again
 * ("existing application packages can't be updated or deleted", Microsoft Learn,
 * batch-application-packages.md), and api-versions newer than 2025-06-01 return `storageUrl`
 * only from that PUT (Azure/azure-rest-api-specs pull 43544). Without this record a run that
 * stopped between PUT and activation could never finish its version from the same machine.
 *
 * The URL is stored without its query: a SAS is a secret and expires; the resumed upload uses the
 * deployer's Entra token (the stack grants it Storage Blob Data Contributor). Pure file I/O.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { sweepLeftovers } from "../core/interrupt";

export interface PendingRecord {
  /** The blob URL, without query string. */
  storageUrl: string;
  /** sha256 of the zip the interrupted run was uploading; unset when it was still being built. */
  sha256?: string;
}

export interface PendingKey {
  subscriptionId: string;
  resourceGroup: string;
  account: string;
  applicationId: string;
  version: string;
}

/** The record's file for this version, beside the zip. Names are case-insensitive in Batch. */
export function pendingRecordPath(zipPath: string, key: PendingKey): string {
  const id = [key.subscriptionId, key.resourceGroup, key.account, key.applicationId, key.version]
    .join("/")
    .toLowerCase();
  const hash = createHash("sha256").update(id).digest("hex").slice(0, 16);
  return path.join(path.dirname(zipPath), ".pending", `${hash}.json`);
}

/** The URL without SAS or any other query. */
export function withoutQuery(url: string): string {
  const u = new URL(url);
  u.search = "";
  u.hash = "";
  return u.toString();
}

/** A record being written: `<key>.json.<pid>.tmp`, renamed into place; the pid captured. */
export const PENDING_TMP_RE = /^[0-9a-f]{16}\.json\.(\d+)\.tmp$/;

export function writePendingRecord(file: string, record: PendingRecord): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // What a run killed between the write and the rename left (a few hundred bytes, but left).
  sweepLeftovers(path.dirname(file), PENDING_TMP_RE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(
    tmp,
    `${JSON.stringify({ storageUrl: withoutQuery(record.storageUrl), sha256: record.sha256 })}\n`,
    { mode: 0o600 },
  );
  fs.renameSync(tmp, file);
}

/** The record, or undefined when there is none or it is not one of ours. */
export function readPendingRecord(file: string): PendingRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<PendingRecord>;
    if (typeof r.storageUrl !== "string" || !/^https:\/\//.test(r.storageUrl)) return undefined;
    if (r.sha256 === undefined) return { storageUrl: r.storageUrl };
    if (typeof r.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(r.sha256)) return undefined;
    return { storageUrl: r.storageUrl, sha256: r.sha256 };
  } catch {
    return undefined;
  }
}

export function removePendingRecord(file: string): void {
  fs.rmSync(file, { force: true });
}
