/**
 * Finds text that looks like a credential: a storage or Batch account key, a connection string's
 * key part, a shared access signature (SAS), a bearer token (a JWT) or a private key. Pure. Tests
 * use it on stack outputs, registrations, plan files and error messages; anything that shows text
 * to people (a plan, an error) can use `redactSecrets` before it does.
 *
 * A finding tells the kind and where the secret is, never its characters, so reporting a finding
 * cannot leak what it found.
 */

export type SecretKind =
  | "account key"
  | "connection string key"
  | "shared access signature"
  | "bearer token"
  | "private key";

export interface SecretFinding {
  kind: SecretKind;
  /** Where the secret part starts in the text (UTF-16 code units, as `String.prototype.slice`). */
  index: number;
  /** Its length; `redactSecrets` replaces exactly this range. */
  length: number;
}

/** Where a secret sits inside a nested value: `$.outputs.storage[0].url`. */
export interface ValueFinding {
  path: string;
  kind: SecretKind;
}

interface Detector {
  kind: SecretKind;
  /** Global regex; the secret is the match, or its `secret` named group when there is one. */
  pattern: RegExp;
}

/**
 * - account key: storage and Batch account keys are 64 random bytes, i.e. 88 base64 characters
 *   ending in `==`, not part of a longer base64 run.
 * - connection string key: the value of `AccountKey=`, `SharedAccessKey=` or
 *   `SharedAccessSignature=` (storage, Service Bus and Event Hubs connection strings).
 * - bearer token: a JWT (`eyJ` header `.` `eyJ` claims `.` signature, which may be empty) or
 *   whatever follows `Bearer `.
 * - private key: a PEM private key block's header.
 */
const DETECTORS: readonly Detector[] = [
  {
    kind: "account key",
    pattern: /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])/g,
  },
  {
    kind: "connection string key",
    pattern:
      /\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)=(?<secret>[^;\s"'`[][^;\s"'`]*)/gi,
  },
  {
    kind: "bearer token",
    pattern: /\beyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g,
  },
  {
    kind: "bearer token",
    // At least 16 characters; a sentence's full stop after it is not part of it.
    pattern: /\bBearer\s+(?<secret>(?=[A-Za-z0-9._~+/-]{16})[A-Za-z0-9._~+/-]*[A-Za-z0-9_~+/-]=*)/g,
  },
  {
    kind: "private key",
    pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g,
  },
];

/**
 * A run of characters a URL or a bare SAS token is made of: quotes, spaces, brackets and `;` (a
 * connection string's separator) end it.
 */
const TOKEN = /[^\s"'`<>()[\]{}|\\;]+/g;

/**
 * SAS: a query (after `?`) or a bare `a=b&c=d` token with a `sig` parameter (the signature), or
 * with both `se` (expiry) and `sp` (permissions), the fields every SAS carries. The secret part is
 * the query, or the whole bare token; a URL's path stays visible.
 */
function findSas(text: string): SecretFinding[] {
  const found: SecretFinding[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const token = m[0];
    const q = token.indexOf("?");
    const query = q >= 0 ? token.slice(q + 1) : token;
    if (!query.includes("=")) continue;
    const names = new Set(query.split("&").map((p) => p.split("=")[0].toLowerCase()));
    if (names.has("sig") || (names.has("se") && names.has("sp"))) {
      const start = q >= 0 ? q + 1 : 0;
      found.push({
        kind: "shared access signature",
        index: (m.index ?? 0) + start,
        length: token.length - start,
      });
    }
  }
  return found;
}

/** Every secret-looking part of `text`, ordered by position. */
export function findSecrets(text: string): SecretFinding[] {
  const found: SecretFinding[] = [];
  for (const { kind, pattern } of DETECTORS) {
    for (const m of text.matchAll(pattern)) {
      const secret = m.groups?.secret;
      const index = (m.index ?? 0) + (secret === undefined ? 0 : m[0].lastIndexOf(secret));
      found.push({ kind, index, length: (secret ?? m[0]).length });
    }
  }
  found.push(...findSas(text));
  found.sort((a, b) => a.index - b.index || a.kind.localeCompare(b.kind) || a.length - b.length);
  // A JWT after `Bearer ` is found twice; report it once.
  return found.filter(
    (f, i) =>
      i === 0 ||
      f.index !== found[i - 1].index ||
      f.kind !== found[i - 1].kind ||
      f.length !== found[i - 1].length,
  );
}

/**
 * Property and output names that hold credentials whatever their value looks like (ARM, azuread
 * and Batch shapes): such a value must be a Pulumi secret. `allowSharedKeyAccess` and other
 * switches about keys are not credentials.
 */
const CREDENTIAL_NAME =
  /^(?:(?:primary|secondary)(?:Access)?Key|accountKey|storageAccountKey|keys?|password|adminPassword|clientSecret|secret|(?:primary|secondary)?ConnectionString|sasToken|sasUrl|storageUrl|accessToken|token|privateKey)$/i;

/** True for a property or output name that holds a credential (see CREDENTIAL_NAME). */
export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAME.test(name);
}

/** True when `text` holds anything `findSecrets` finds. */
export function hasSecrets(text: string): boolean {
  return findSecrets(text).length > 0;
}

/** `text` with every secret part replaced by `[redacted <kind>]`. */
export function redactSecrets(text: string): string {
  // Merge overlapping ranges (an account key inside `AccountKey=...`), keeping the first kind.
  const ranges: { start: number; end: number; kind: SecretKind }[] = [];
  for (const f of findSecrets(text)) {
    const last = ranges[ranges.length - 1];
    if (last && f.index < last.end) last.end = Math.max(last.end, f.index + f.length);
    else ranges.push({ start: f.index, end: f.index + f.length, kind: f.kind });
  }
  let out = text;
  for (const r of ranges.reverse()) {
    out = `${out.slice(0, r.start)}[redacted ${r.kind}]${out.slice(r.end)}`;
  }
  return out;
}

/**
 * Every secret-looking string inside a nested value (objects, arrays, strings), with its path.
 * Object keys are scanned too: a key can carry a value (`{"AccountKey=...": true}`).
 */
export function scanValue(value: unknown, path = "$"): ValueFinding[] {
  if (typeof value === "string") {
    return findSecrets(value).map((f) => ({ path, kind: f.kind }));
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => scanValue(v, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [
      ...findSecrets(k).map((f) => ({ path: `${path} (key)`, kind: f.kind })),
      ...scanValue(v, `${path}.${k}`),
    ]);
  }
  return [];
}
