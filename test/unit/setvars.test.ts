import { describe, expect, it } from "vitest";
import { evaluateScript } from "../../src/resolve/sandbox.js";
import { itkSetVarsScript } from "../fixtures/itk-set-vars.js";

const run = (script: string, env: Record<string, string> = {}, variables = ["CONTAINER_SOURCE"], timeoutSeconds?: number) =>
  evaluateScript(Buffer.from(script), {
    env,
    variables,
    scriptName: "dockcross-manylinux-set-vars.sh",
    ...(timeoutSeconds && { timeoutSeconds }),
  });

// Newer versions source a sibling script (absent here) after setting the image.
const ITK_LIKE = itkSetVarsScript(
  undefined,
  'script_dir=$(cd $(dirname $0) || exit 1; pwd)\nsource "${script_dir}/oci_exe.sh"\necho "done"\n',
);

describe("evaluateScript", () => {
  it("reads back the named variable for x64 and aarch64, even when a sibling script is missing", async () => {
    const x64 = await run(ITK_LIKE, { MANYLINUX_VERSION: "_2_28", TARGET_ARCH: "x64" });
    expect(x64.exitCode).toBe(0);
    expect(x64.values).toEqual({ CONTAINER_SOURCE: "docker.io/dockcross/manylinux_2_28-x64:20240304-9e57d2b" });
    expect(x64.output).toMatch(/oci_exe.sh: No such file/);
    const arm = await run(ITK_LIKE, { MANYLINUX_VERSION: "_2_28", TARGET_ARCH: "aarch64" });
    expect(arm.values.CONTAINER_SOURCE).toBe("quay.io/pypa/manylinux_2_28_aarch64:2025.08.12-1");
  });

  it("reports the script's own exit 1 with its message", async () => {
    const result = await run(ITK_LIKE, { MANYLINUX_VERSION: "_2_99" });
    expect(result.exitCode).toBe(1);
    expect(result.output).toBe("Unknown manylinux version _2_99");
    expect(result.values).toEqual({});
  });

  it("gives the script an empty environment: no GITHUB_TOKEN, a temporary HOME, only PATH and the given pairs", async () => {
    process.env.GITHUB_TOKEN = "ghs_secret_from_the_runner";
    try {
      const result = await run(
        'echo "token=[${GITHUB_TOKEN-}]"; echo "home=$HOME"; echo "pwd=$PWD"; echo x > "$HOME/written"; CONTAINER_SOURCE="$(env | cut -d= -f1 | grep -v -e ^PWD$ -e ^SHLVL$ -e ^_$ -e ^OLDPWD$ | sort | tr "\\n" " ")"',
        { ONLY: "1" },
      );
      expect(result.output).toMatch(/^token=\[\]$/m);
      expect(result.output).toMatch(/^home=.*prepull-set-vars-.*\/home$/m);
      expect(result.output).toMatch(/^pwd=.*prepull-set-vars-.*\/work$/m);
      expect(result.values.CONTAINER_SOURCE?.trim()).toBe("HOME ONLY PATH");
      expect(result.output).not.toContain("ghs_secret");
    } finally {
      delete process.env.GITHUB_TOKEN;
    }
  });

  it("cannot forge values by printing, and has no stdin", async () => {
    const result = await run('echo "CONTAINER_SOURCE=evil/image"; echo "::set-output name=images::evil"; read -r line; echo "read=$?"');
    expect(result.values).toEqual({});
    expect(result.output).toContain("::set-output name=images::evil");
    expect(result.output).toMatch(/read=1/);
  });

  it("stops a script that hangs, and what it started", async () => {
    const started = Date.now();
    const result = await run("sleep 30 & sleep 30; CONTAINER_SOURCE=x", {}, ["CONTAINER_SOURCE"], 1);
    expect(result.timedOut).toBe(true);
    expect(result.values).toEqual({});
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("passes variable names as arguments, never as code", async () => {
    const result = await run("A=1; B=2", {}, ["A", "B", "C"]);
    expect(result.values).toEqual({ A: "1", B: "2" });
  });
});
