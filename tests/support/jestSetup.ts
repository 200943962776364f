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
import * as inspector from "node:inspector";

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

/*
 * Pulumi's closure serializer (runtime/closure/v8Hooks.js) opens an inspector session with the
 * debugger enabled in each module registry that serializes a function (a dynamic provider, a
 * serialized stack run), and never closes it. While a session has the debugger on, V8 keeps every
 * script compiled after it (source text and code; a heap snapshot showed them held by "DevTools
 * debugger" handles), so a jest worker kept every later test file's modules. The sessions a file
 * opened are closed once it is over: a worker held about 450 MB after 38 files instead of 620 MB,
 * and the whole suite took 77 s instead of 85 s (2 idle cores). `node:inspector` is Node's own
 * module, one for all of the worker's files, so the sessions are tracked on its Session class, not
 * in this file's registry.
 */
const SESSIONS = Symbol.for("hpc-batch.test.inspectorSessions");
// The class, not the namespace object: `import * as` makes one per file.
const Session = inspector.Session as typeof inspector.Session & {
  [SESSIONS]?: Set<inspector.Session>;
};
if (!Session[SESSIONS]) {
  const sessions = new Set<inspector.Session>();
  Session[SESSIONS] = sessions;
  const connect = Session.prototype.connect;
  Session.prototype.connect = function (this: inspector.Session) {
    sessions.add(this);
    return connect.call(this);
  };
}
afterAll(() => {
  const sessions = Session[SESSIONS]!;
  for (const session of sessions) session.disconnect();
  sessions.clear();
});
