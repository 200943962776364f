/**
 * The floor plan holds: each room of lib/ imports only the rooms its README names on its
 * `May import:` line, lib/ never imports the layers above it, and the CLI's commands never
 * import the CLI's entry (`cli/main.ts` imports them). The stand-ins (standins/, shared by the
 * suite and `npm run bench`) stand apart: they import only each other, and nothing shipped imports
 * them.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const LIB = path.join(ROOT, "lib");
const ROOMS = ["azure", "core", "node", "package", "plan", "publish"];

/** The .ts files under `dir`, relative to the repository. */
function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)))
    .sort();
}

/** Every relative module a file imports (static, `require`, dynamic), relative to the repository. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|require\(|import\(?)\s*"(\.{1,2}\/[^"]+)"/g)) {
    out.push(path.relative(ROOT, path.resolve(ROOT, path.dirname(file), m[1])));
  }
  return out;
}

function mayImport(room: string): string[] {
  const text = fs.readFileSync(path.join(LIB, room, "README.md"), "utf8");
  const line = /^May import: (.*)$/m.exec(text);
  if (!line) throw new Error(`lib/${room}/README.md has no "May import:" line`);
  return line[1] === "(nothing else in lib/)" ? [] : line[1].split(", ");
}

test("lib/ holds only its rooms, each with its README", () => {
  const entries = fs.readdirSync(LIB, { withFileTypes: true });
  expect(
    entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort(),
  ).toEqual(ROOMS);
  expect(entries.filter((e) => e.isFile()).map((e) => e.name)).toEqual(["README.md"]);
  for (const room of ROOMS) expect(fs.existsSync(path.join(LIB, room, "README.md"))).toBe(true);
});

test.each(ROOMS)("lib/%s imports only what its README allows", (room) => {
  const allowed = new Set([room, ...mayImport(room)]);
  const stray: string[] = [];
  for (const file of sources(`lib/${room}`)) {
    for (const target of importsOf(file)) {
      const [top, other] = target.split(path.sep);
      if (top !== "lib" || !allowed.has(other)) stray.push(`${file} -> ${target}`);
    }
  }
  expect(stray).toEqual([]);
});

test("the README rules are a hierarchy: no room may import one that may import it", () => {
  for (const a of ROOMS)
    for (const b of mayImport(a)) expect([a, mayImport(b).includes(a)]).toEqual([a, false]);
});

test("commands import the CLI's context, never its entry", () => {
  const stray = sources("cli/commands").flatMap((file) =>
    importsOf(file)
      .filter((t) => t === path.join("cli", "main"))
      .map((t) => `${file} -> ${t}`),
  );
  expect(stray).toEqual([]);
});

test("the stand-ins import only each other, and no shipped code imports them", () => {
  expect(sources("standins").length).toBeGreaterThanOrEqual(5);
  const stray = sources("standins").flatMap((file) =>
    importsOf(file)
      .filter((t) => t.split(path.sep)[0] !== "standins")
      .map((t) => `${file} -> ${t}`),
  );
  const shipped = ["index.ts", ...["cli", "components", "lib", "policy"].flatMap(sources)];
  for (const file of shipped) {
    for (const t of importsOf(file)) {
      if (t.split(path.sep)[0] === "standins") stray.push(`${file} -> ${t}`);
    }
  }
  expect(stray).toEqual([]);
});

test.each(ROOMS)("lib/%s/README.md names every module of the room", (room) => {
  const readme = fs.readFileSync(path.join(LIB, room, "README.md"), "utf8");
  const unnamed = sources(`lib/${room}`)
    .map((file) => path.relative(path.join("lib", room), file))
    .filter((rel) => !readme.includes(`\`${path.basename(rel)}\``) && !readme.includes(rel));
  expect(unnamed).toEqual([]);
});
