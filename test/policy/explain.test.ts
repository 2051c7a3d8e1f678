/** The one-line explanations the auth error log prints. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeDecision, evaluate } from "../../src/policy/index.js";
import { allow, dbuser, deny, policy } from "./helpers.js";

const request = { action: "rds-db:connect", resource: dbuser("jane_doe") };

test("explicit deny names the statement and policy", () => {
  const d = evaluate(request, {
    identity: [
      policy("all", allow("*", "*")),
      policy("prod-guard", [allow("s3:*", "*"), { ...deny("rds-db:*", "*"), Sid: "NoDb" }]),
    ],
  });
  assert.equal(
    describeDecision(d, request),
    `rds-db:connect on ${dbuser("jane_doe")} denied by statement "NoDb" (#1) of identity policy "prod-guard"`,
  );
});

test("implicit deny without any allow", () => {
  const d = evaluate(request, { identity: [] });
  assert.equal(describeDecision(d, request), `no statement allowed rds-db:connect on ${dbuser("jane_doe")}`);
});

test("implicit deny by a boundary", () => {
  const d = evaluate(request, {
    identity: [policy("db", allow("rds-db:connect", "*"))],
    boundary: policy("b", allow("s3:*", "*")),
  });
  assert.equal(
    describeDecision(d, request),
    `rds-db:connect on ${dbuser("jane_doe")} allowed by statement #0 of identity policy "db", but no permissions boundary allows it`,
  );
});

test("allowed names the first allowing statement", () => {
  const d = evaluate(request, { identity: [policy("db", allow("rds-db:connect", "*"))] });
  assert.equal(
    describeDecision(d, request),
    `rds-db:connect on ${dbuser("jane_doe")} allowed by statement #0 of identity policy "db"`,
  );
});
