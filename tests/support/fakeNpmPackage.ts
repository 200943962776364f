import * as fs from "node:fs";
import * as path from "node:path";

/**
 * A fake installed npm package with a binary, as @ffmpeg-installer/linux-x64 is:
 * `<project>/node_modules/@acme/tool` at version 1.2.3, holding `bin/tool` (0755) and `LICENSE`
 * (0644). Returns the package's folder.
 */
export function fakeNpmPackage(project: string): string {
  const pkg = path.join(project, "node_modules", "@acme", "tool");
  fs.mkdirSync(path.join(pkg, "bin"), { recursive: true });
  fs.writeFileSync(
    path.join(pkg, "package.json"),
    JSON.stringify({ name: "@acme/tool", version: "1.2.3" }),
  );
  fs.writeFileSync(path.join(pkg, "bin", "tool"), "#!/bin/sh\necho tool\n", { mode: 0o755 });
  fs.writeFileSync(path.join(pkg, "LICENSE"), "license\n", { mode: 0o644 });
  return pkg;
}
