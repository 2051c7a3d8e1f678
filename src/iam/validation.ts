import { ValidationError } from "./errors.js";

/**
 * Parameter constraints from the IAM and STS API references, with AWS's own wording
 * ("1 validation error detected: Value 'x' at 'userName' failed to satisfy constraint: …").
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
 */
function fail(field: string, value: unknown, constraint: string): never {
  const shown = typeof value === "string" ? value : String(value);
  throw new ValidationError(
    `1 validation error detected: Value '${shown}' at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}

export function checkString(
  field: string,
  value: unknown,
  min: number,
  max: number,
  pattern?: RegExp,
): string {
  if (typeof value !== "string") fail(field, value, "Member must not be null");
  if (value.length < min) fail(field, value, `Member must have length greater than or equal to ${min}`);
  if (value.length > max) fail(field, value, `Member must have length less than or equal to ${max}`);
  if (pattern !== undefined && !pattern.test(value)) {
    const source = pattern.source.replace(/^\^\(\?:/, "").replace(/\)\$$/, "");
    fail(field, value, `Member must satisfy regular expression pattern: ${source}`);
  }
  return value;
}

/** A list parameter's member count, reported as AWS does for list constraints. */
export function checkListLength<T>(field: string, list: readonly T[], max: number): readonly T[] {
  if (list.length > max) {
    fail(
      field,
      `[${list.map((x) => String(x)).join(", ")}]`,
      `Member must have length less than or equal to ${max}`,
    );
  }
  return list;
}

export function checkInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value)) fail(field, value, "Member must be an integer");
  if (value < min) fail(field, value, `Member must have value greater than or equal to ${min}`);
  if (value > max) fail(field, value, `Member must have value less than or equal to ${max}`);
  return value;
}

const NAME = /^(?:[\w+=,.@-]+)$/;
const PATH = /^(?:(\u002F)|(\u002F[\u0021-\u007E]+\u002F))$/;
const PATH_PREFIX = /^(?:\u002F[\u0021-\u007F]*)$/;
const DESCRIPTION = /^(?:[\t\n\r\u0020-\u007E\u00A1-\u00FF]*)$/;
const SESSION_NAME = /^(?:[\w+=,.@-]*)$/;
const VERSION_ID = /^(?:v[1-9][0-9]*(\.[A-Za-z0-9-]*)?)$/;
const ACCESS_KEY_ID = /^(?:[\w]+)$/;

export const checkUserName = (field: string, v: unknown) => checkString(field, v, 1, 64, NAME);
export const checkGroupName = (field: string, v: unknown) => checkString(field, v, 1, 128, NAME);
export const checkRoleName = (field: string, v: unknown) => checkString(field, v, 1, 64, NAME);
export const checkPolicyName = (field: string, v: unknown) => checkString(field, v, 1, 128, NAME);
export const checkPath = (field: string, v: unknown) => checkString(field, v, 1, 512, PATH);
export const checkPathPrefix = (field: string, v: unknown) => checkString(field, v, 1, 512, PATH_PREFIX);
export const checkDescription = (field: string, v: unknown) => checkString(field, v, 0, 1000, DESCRIPTION);
export const checkRoleSessionName = (field: string, v: unknown) => checkString(field, v, 2, 64, SESSION_NAME);
export const checkVersionId = (field: string, v: unknown) => checkString(field, v, 1, 128, VERSION_ID);
export const checkAccessKeyId = (field: string, v: unknown) => checkString(field, v, 16, 128, ACCESS_KEY_ID);
export const checkPolicyArn = (field: string, v: unknown) => checkString(field, v, 20, 2048);

export function checkStatus(field: string, v: unknown): "Active" | "Inactive" {
  if (v !== "Active" && v !== "Inactive")
    fail(field, v, "Member must satisfy enum value set: [Active, Inactive]");
  return v;
}

/** MaxItems for List* operations: 1..1000, AWS's default 100. */
export function checkMaxItems(v: unknown): number {
  return v === undefined ? 100 : checkInteger("maxItems", v, 1, 1000);
}
