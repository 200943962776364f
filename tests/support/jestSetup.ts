/**
 * Runs in every test file once jest has installed source-map-support (jest.config.js
 * setupFilesAfterEnv).
 *
 * Pulumi's runtime records a stack trace with every promise it makes (runtime/debuggable.js,
 * debuggablePromise: `new Error().stack`), only for its message about promises still pending at
 * exit. Under jest each of those traces goes through source-map-support, which maps every frame
 * through Pulumi's .js.map files: about a fifth of the time of a file that runs the program. Those
 * traces keep V8's own format, unmapped; every other stack trace is mapped as before.
 */
const mapped = Error.prepareStackTrace;
const DEBUGGABLE = /[\\/]@pulumi[\\/]pulumi[\\/]runtime[\\/]debuggable\.js$/;
if (mapped) {
  Error.prepareStackTrace = (error, sites) => {
    const top = sites[0];
    if (
      top?.getFunctionName() === "debuggablePromise" &&
      DEBUGGABLE.test(top.getFileName() ?? "")
    ) {
      return `${Error.prototype.toString.call(error)}${sites.map((s) => `\n    at ${s}`).join("")}`;
    }
    return mapped(error, sites);
  };
}
