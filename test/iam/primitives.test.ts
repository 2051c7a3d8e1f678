import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { assumedRoleArn, parseIamArn, userArn } from "../../src/iam/arns.js";
import { InvalidatingCache } from "../../src/iam/cache.js";
import { LimitExceededError, ValidationError } from "../../src/iam/errors.js";
import { newAccessKeyId, newSecretAccessKey, newSessionToken, newUniqueId } from "../../src/iam/ids.js";
import { paginate } from "../../src/iam/paginate.js";
import type { ChangeFeed } from "../../src/iam/repository.js";
import { SealedValueError, SecretBox } from "../../src/iam/secret-box.js";
import { checkTags, mergeTags, overlayTags } from "../../src/iam/tags.js";
import { checkPath, checkRoleSessionName, checkUserName } from "../../src/iam/validation.js";

const A = { accountId: "123456789012", partition: "aws" };

describe("ids", () => {
  it("look like AWS's", () => {
    assert.match(newUniqueId("AIDA"), /^AIDA[A-Z2-7]{17}$/);
    assert.match(newAccessKeyId("AKIA"), /^AKIA[A-Z2-7]{16}$/);
    assert.match(newAccessKeyId("ASIA"), /^ASIA[A-Z2-7]{16}$/);
    assert.match(newSecretAccessKey(), /^[A-Za-z0-9+/]{40}$/);
    const token = newSessionToken();
    assert.ok(token.length >= 400);
    assert.equal(Buffer.from(token, "base64").toString("base64"), token);
  });
});

describe("arns", () => {
  it("build and parse with paths", () => {
    assert.equal(userArn(A, "/a/b/", "jane"), "arn:aws:iam::123456789012:user/a/b/jane");
    assert.equal(assumedRoleArn(A, "dba", "s1"), "arn:aws:sts::123456789012:assumed-role/dba/s1");
    assert.deepEqual(parseIamArn(A, "arn:aws:iam::123456789012:policy/db/Conn"), {
      kind: "policy",
      path: "/db/",
      name: "Conn",
    });
    assert.equal(parseIamArn(A, "arn:aws:iam::999999999999:policy/Conn"), undefined);
    assert.equal(parseIamArn(A, "arn:aws:iam::123456789012:policy/"), undefined);
    assert.equal(parseIamArn(A, "arn:aws:iam::123456789012:thing/x"), undefined);
  });
});

describe("validation", () => {
  it("uses AWS's wording", () => {
    assert.throws(
      () => checkUserName("userName", "a b"),
      (e: unknown) =>
        e instanceof ValidationError &&
        e.message ===
          "1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint: " +
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
    );
    assert.equal(checkPath("path", "/a/b/"), "/a/b/");
    assert.throws(() => checkPath("path", "/a"), ValidationError);
    assert.equal(checkRoleSessionName("s", "a.b@c=d,e-f_g+h"), "a.b@c=d,e-f_g+h");
  });

  it("tags: limits, reserved prefix, duplicate keys in one call", () => {
    assert.throws(() => checkTags("tags", [{ key: "", value: "x" }]), ValidationError);
    assert.throws(() => checkTags("tags", [{ key: "k", value: "x".repeat(257) }]), ValidationError);
    assert.throws(
      () =>
        checkTags("tags", [
          { key: "a", value: "1" },
          { key: "A", value: "2" },
        ]),
      /Duplicate/,
    );
    const fifty = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: "" }));
    assert.equal(mergeTags([], fifty).length, 50);
    assert.throws(() => mergeTags(fifty, [{ key: "new", value: "" }]), LimitExceededError);
  });
});

describe("session tags over role tags", () => {
  it("replace a role tag whose key differs only in case, keeping the session tag's key", () => {
    assert.deepEqual(overlayTags({ Team: "web", env: "prod" }, [{ key: "team", value: "db" }]), {
      team: "db",
      env: "prod",
    });
    assert.deepEqual(overlayTags({ a: "1" }, []), { a: "1" });
  });

  it("never leave two keys that differ only in case (property)", () => {
    const key = fc.stringMatching(/^[A-Za-z]{1,3}$/);
    fc.assert(
      fc.property(
        // A role's own tags never differ only in case (checkTags refuses that), so neither do these.
        fc
          .uniqueArray(fc.record({ key, value: fc.string() }), { selector: (t) => t.key.toLowerCase() })
          .map((tags) => Object.fromEntries(tags.map((t) => [t.key, t.value]))),
        fc.array(fc.record({ key, value: fc.string() })),
        (base, over) => {
          const lower = Object.keys(overlayTags(base, over)).map((k) => k.toLowerCase());
          assert.equal(new Set(lower).size, lower.length);
          for (const t of over) {
            const last = over.filter((o) => o.key.toLowerCase() === t.key.toLowerCase()).at(-1);
            assert.equal(overlayTags(base, over)[last?.key ?? ""], last?.value);
          }
        },
      ),
    );
  });
});

describe("secret box", () => {
  it("round-trips, binds the context, and detects tampering", () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ctx:AKIA1");
    assert.equal(box.open(sealed, "ctx:AKIA1"), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    assert.notEqual(box.seal("same", "c"), box.seal("same", "c"));
    assert.throws(() => box.open(sealed, "ctx:AKIA2"), SealedValueError);
    const raw = Buffer.from(sealed.slice(3), "base64");
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    assert.throws(() => box.open(`v1.${raw.toString("base64")}`, "ctx:AKIA1"), SealedValueError);
    assert.throws(() => new SecretBox(randomBytes(16)), RangeError);
  });

  it("round-trips any string (property)", () => {
    const box = new SecretBox(randomBytes(32));
    fc.assert(fc.property(fc.string(), fc.string(), (s, c) => box.open(box.seal(s, c), c) === s));
  });
});

describe("paginate", () => {
  it("walks every item exactly once in key order, whatever the page size (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1 })),
        fc.integer({ min: 1, max: 7 }),
        (keys, size) => {
          const seen: string[] = [];
          let marker: string | undefined;
          for (;;) {
            const page = paginate(keys, (k) => k, { maxItems: size, marker });
            seen.push(...page.items);
            if (!page.isTruncated) break;
            marker = page.marker;
          }
          assert.deepEqual(
            seen,
            [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
          );
        },
      ),
    );
  });

  it("rejects MaxItems outside 1..1000", () => {
    assert.throws(() => paginate([], (k: string) => k, { maxItems: 0 }), ValidationError);
    assert.throws(() => paginate([], (k: string) => k, { maxItems: 1001 }), ValidationError);
  });
});

describe("invalidating cache", () => {
  function feed(): ChangeFeed & { live: boolean; polls: number } {
    return {
      live: true,
      polls: 0,
      subscribe: () => () => undefined,
      poll() {
        this.polls++;
      },
    };
  }

  it("does not keep a value loaded across an invalidation", async () => {
    const f = feed();
    const cache = new InvalidatingCache<string>(f, 10);
    let release: (v: string) => void = () => undefined;
    const pending = cache.get(
      "k",
      () =>
        new Promise((r) => {
          release = r;
        }),
    );
    cache.clear();
    release("stale");
    assert.equal(await pending, "stale");
    assert.equal(cache.size, 0);
    assert.equal(await cache.get("k", async () => "fresh"), "fresh");
    assert.equal(await cache.get("k", async () => "other"), "fresh");
    assert.ok(f.polls >= 3);
  });

  it("bypasses the cache while the feed is not live, and evicts the least recently used", async () => {
    const f = feed();
    const cache = new InvalidatingCache<number>(f, 2);
    f.live = false;
    await cache.get("a", async () => 1);
    assert.equal(cache.size, 0);
    f.live = true;
    await cache.get("a", async () => 1);
    await cache.get("b", async () => 2);
    await cache.get("a", async () => 99);
    await cache.get("c", async () => 3);
    assert.equal(await cache.get("a", async () => 100), 1);
    assert.equal(await cache.get("b", async () => 200), 200);
  });
});
