import {
  appPackageEnvVar,
  appPackageEnvVarNames,
  smokeScript,
  smokeTask,
  splitCommandLine,
} from "../../../lib/node/smokeTask";

// Linux naming: `.`, `-` and `#` become `_`, the application id keeps its case
// (MicrosoftDocs/azure-docs articles/batch/batch-application-packages.md).
test.each([
  ["ffmpeg", "1.2.0", "AZ_BATCH_APP_PACKAGE_ffmpeg_1_2_0"],
  ["ffmpeg", "1.0.0-rc.3", "AZ_BATCH_APP_PACKAGE_ffmpeg_1_0_0_rc_3"],
  ["blender", "2.7", "AZ_BATCH_APP_PACKAGE_blender_2_7"],
  ["Agent-linux-x64", "1.1.46.0", "AZ_BATCH_APP_PACKAGE_Agent_linux_x64_1_1_46_0"],
  ["my_app", "v#2", "AZ_BATCH_APP_PACKAGE_my_app_v_2"],
  ["ffmpeg", undefined, "AZ_BATCH_APP_PACKAGE_ffmpeg"],
  ["flamenco-worker", undefined, "AZ_BATCH_APP_PACKAGE_flamenco_worker"],
])("appPackageEnvVar(%s, %s) = %s", (id, version, name) => {
  expect(appPackageEnvVar(id, version)).toBe(name);
});

test.each([
  ["ffmpeg", "1.2.0", ["AZ_BATCH_APP_PACKAGE_ffmpeg_1_2_0"]],
  [
    "MyBatchApplication",
    "1.5",
    ["AZ_BATCH_APP_PACKAGE_MyBatchApplication_1_5", "AZ_BATCH_APP_PACKAGE_mybatchapplication_1_5"],
  ],
  ["FFmpeg", undefined, ["AZ_BATCH_APP_PACKAGE_FFmpeg", "AZ_BATCH_APP_PACKAGE_ffmpeg"]],
])("appPackageEnvVarNames(%s, %s) = %j", (id, version, names) => {
  expect(appPackageEnvVarNames(id, version)).toEqual(names);
});

test("the smoke task's command line is /bin/sh -c with the script as one argument", () => {
  const task = smokeTask({ applicationId: "ffmpeg", version: "1.2.0" });
  expect(task.id).toBe("smoke");
  expect(task.applicationPackageReferences).toEqual([
    { applicationId: "ffmpeg", version: "1.2.0" },
  ]);
  expect(task.outputs).toEqual(["smoke-input.mkv", "smoke-output.mp4"]);
  expect(task.maxWallClockTime).toBe("PT10M");
  expect(splitCommandLine(task.commandLine)).toEqual(["/bin/sh", "-c", task.script]);
  expect(task.script).toBe(
    [
      "set -eu",
      'app="${AZ_BATCH_APP_PACKAGE_ffmpeg_1_2_0:-}"',
      'if [ -z "$app" ]; then echo "smoke: application package ffmpeg 1.2.0 is not on this node (AZ_BATCH_APP_PACKAGE_ffmpeg_1_2_0 unset)" >&2; exit 3; fi',
      'ff="$app/bin/ffmpeg"',
      'version=$("$ff" -version)',
      'echo "$version" | sed -n 1p',
      '"$ff" -hide_banner -loglevel error -y -f lavfi -i testsrc=duration=2:size=320x240:rate=25 -f lavfi -i sine=frequency=440:duration=2 -c:v mpeg4 -c:a pcm_s16le smoke-input.mkv',
      '"$app/bin/transcode.sh" smoke-input.mkv smoke-output.mp4 -loglevel error -vf scale=160:120 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 64k',
      'if [ ! -s smoke-output.mp4 ]; then echo "smoke: smoke-output.mp4 is missing or empty" >&2; exit 4; fi',
      '"$ff" -hide_banner -loglevel error -i smoke-output.mp4 -f null -',
      'echo "smoke: ok $(wc -c < smoke-output.mp4) bytes in smoke-output.mp4"',
    ].join("; "),
  );
});

test("an application id with capitals looks up both spellings of the variable", () => {
  expect(smokeScript({ applicationId: "FFmpeg", version: "2.0" })).toContain(
    'app="${AZ_BATCH_APP_PACKAGE_FFmpeg_2_0:-${AZ_BATCH_APP_PACKAGE_ffmpeg_2_0:-}}"',
  );
});

test.each([
  ["/bin/sh -c 'echo $HOME; ls'", ["/bin/sh", "-c", "echo $HOME; ls"]],
  ['/bin/bash -c "echo \\"a b\\" \\\\ x"', ["/bin/bash", "-c", 'echo "a b" \\ x']],
  ["  prog   a  b ", ["prog", "a", "b"]],
  ["prog 'a b'c \"d\"", ["prog", "a bc", "d"]],
  ["prog a\\ b", ["prog", "a b"]],
  ["prog ''", ["prog", ""]],
])("splitCommandLine(%s)", (line, argv) => {
  expect(splitCommandLine(line)).toEqual(argv);
});

test.each([
  ["prog 'open", "unterminated single quote in command line"],
  ['prog "open', "unterminated double quote in command line"],
])("splitCommandLine(%s) throws", (line, message) => {
  expect(() => splitCommandLine(line)).toThrow(message);
});
