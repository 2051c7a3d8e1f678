// `iamdb --version` and `iamdb completion bash|zsh` as a user runs them: the built bin, the
// script loaded into a real bash (and zsh when the machine has it).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { program } from "../../src/cli/main.js";
import { iamdb } from "../helpers/cli.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "iamdb-completion-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const hasShell = (shell: string) => spawnSync(shell, ["-c", "exit 0"]).status === 0;

describe("iamdb --version", () => {
  it("prints iamdb's version (from package.json) and Node's", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const r = await iamdb([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `iamdb ${version} (Node.js ${process.version})`);
    }
  });
});

describe("usage errors point at the help that lists the flags", () => {
  it("names the subcommand's own --help (exit 2)", async () => {
    for (const [args, help] of [
      [["token", "--hostname", "db"], "iamdb token --help"],
      [["iam", "create-user"], "iamdb iam create-user --help"],
      [["iam", "frob"], "iamdb iam --help"],
      [["inspect-token", ""], "iamdb inspect-token --help"],
      [["completion", "fish"], "iamdb completion --help"],
      [["frob"], "iamdb --help"],
    ] as const) {
      const r = await iamdb([...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.ok(r.stderr.trimEnd().endsWith(`(run ${help} for usage)`), `${args.join(" ")}: ${r.stderr}`);
    }
  });
});

describe("iamdb completion bash", () => {
  let script: string;

  /** What bash completes for the words typed so far (the last one being completed). */
  function complete(words: string[], cwd = dir): string[] {
    const file = join(dir, "iamdb.bash");
    writeFileSync(file, script);
    const r = spawnSync(
      "bash",
      [
        "--norc",
        "-c",
        `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _iamdb_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
        "bash",
        file,
        ...words,
      ],
      { cwd, encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter((l) => l !== "");
  }

  it("prints a script bash can source, registering a completion for iamdb", async () => {
    const r = await iamdb(["completion", "bash"]);
    assert.equal(r.code, 0, r.stderr);
    script = r.stdout;
    const file = join(dir, "iamdb.bash");
    writeFileSync(file, script);
    const p = spawnSync("bash", ["--norc", "-c", `source "$1"; complete -p iamdb`, "bash", file], {
      encoding: "utf8",
    });
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout.trim(), "complete -o default -F _iamdb_complete iamdb");
  });

  it("completes subcommands, nested subcommands and their flags", () => {
    assert.deepEqual(complete(["iamdb", "i"]).sort(), ["iam", "inspect-token"]);
    assert.ok(complete(["iamdb", ""]).includes("completion"));
    assert.deepEqual(complete(["iamdb", "db-user", "r"]), ["rotate"]);
    assert.ok(complete(["iamdb", "iam", "create-"]).includes("create-access-key"));
    assert.deepEqual(complete(["iamdb", "iam", "create-user", "--us"]), ["--user-name"]);
    // A flag's value is not taken for a subcommand: "up" here is a user name.
    assert.deepEqual(complete(["iamdb", "token", "--username", "up", "--ho"]), ["--hostname"]);
    assert.deepEqual(complete(["iamdb", "--ver"]), ["--version"]);
  });

  it("completes file names after a flag that takes a value", () => {
    writeFileSync(join(dir, "iamdb.json"), "{}");
    assert.ok(complete(["iamdb", "up", "--config", "iamdb.j"]).includes("iamdb.json"));
  });

  it("a flag never takes a value in one command and none in another (the script skips values by flag)", () => {
    const takes = new Map<string, Set<boolean>>();
    const walk = (c: Command) => {
      for (const o of c.options) {
        if (!o.long) continue;
        const set = takes.get(o.long) ?? new Set<boolean>();
        set.add(o.required || o.optional);
        takes.set(o.long, set);
      }
      for (const s of c.commands) walk(s);
    };
    walk(program({ out() {}, err() {}, readStdin: async () => "", env: {} }, () => undefined));
    const both = [...takes].filter(([, s]) => s.size > 1).map(([flag]) => flag);
    assert.deepEqual(both, []);
  });
});

describe("iamdb completion zsh", () => {
  it("has zsh to check the script with", () => {
    assert.ok(hasShell("zsh"), "zsh is not installed: apt-get install zsh (.ci/run installs it)");
  });

  it("prints a script zsh parses, offering subcommands and flags with their descriptions", async () => {
    const r = await iamdb(["completion", "zsh"]);
    assert.equal(r.code, 0, r.stderr);
    const file = join(dir, "_iamdb");
    writeFileSync(file, r.stdout);
    assert.equal(spawnSync("zsh", ["-n", file]).status, 0);
    // zsh's completion system replaced by stubs that print what the function offers.
    const offered = (...words: string[]) => {
      const p = spawnSync(
        "zsh",
        [
          "-f",
          "-c",
          `compdef() { :; }; _describe() { print -rl -- "\${(@P)4}"; }; _files() { print FILES; }
           source "$1"; shift; words=("$@"); CURRENT=$#words; _iamdb`,
          "zsh",
          file,
          ...words,
        ],
        { encoding: "utf8" },
      );
      assert.equal(p.status, 0, p.stderr);
      return p.stdout.split("\n").filter((l) => l !== "");
    };
    assert.ok(offered("iamdb", "").some((l) => /^inspect-token:decode a token/.test(l)));
    assert.ok(offered("iamdb", "iam", "create-user", "").includes("--user-name:(required)"));
    assert.deepEqual(offered("iamdb", "up", "--config", ""), ["FILES"]);
  });
});
