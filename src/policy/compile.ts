/**
 * Compiles a validated policy document into matchers, once, when the policy is
 * loaded; evaluation then only runs the matchers.
 */
import { type CompiledCondition, compileCondition } from "./conditions.js";
import { type Effect, type PolicyDocument, parsePolicyDocument } from "./document.js";
import type { PolicyKind } from "./limits.js";
import { compileGlob, compileGlobText, type Glob } from "./match.js";
import { type CompiledPrincipal, compilePrincipal } from "./principal.js";
import { parseTemplate, TemplateValue } from "./variables.js";

export interface CompiledStatement {
  /** Position in the document's Statement array (0-based). */
  readonly index: number;
  readonly sid: string | undefined;
  readonly effect: Effect;
  /** Action globs (case-insensitive); `negated` for NotAction. */
  readonly actions: { readonly negated: boolean; readonly globs: readonly Glob[] };
  /** Resource patterns (case-sensitive, may hold variables); undefined in trust policies. */
  readonly resources:
    | { readonly negated: boolean; readonly patterns: readonly TemplateValue<Glob>[] }
    | undefined;
  /** Principal matcher; only in resource-based policies. */
  readonly principals: { readonly negated: boolean; readonly principal: CompiledPrincipal } | undefined;
  readonly conditions: readonly CompiledCondition[];
  /** Context keys this statement reads (conditions other than Null, and variables), for MissingContextValues. */
  readonly referencedKeys: readonly { readonly key: string; readonly keyLower: string }[];
}

export interface CompiledPolicy {
  /** Name shown in decisions, e.g. the inline policy name or managed policy name. */
  readonly name: string | undefined;
  /** Stable id shown in decisions, e.g. the managed policy ARN. */
  readonly id: string | undefined;
  readonly kind: PolicyKind;
  readonly document: PolicyDocument;
  readonly statements: readonly CompiledStatement[];
}

export interface CompileOptions {
  readonly kind: PolicyKind;
  readonly name?: string;
  readonly id?: string;
  /**
   * Trust policies: the user and role ARNs bound to unique ids when the policy was saved
   * (ARN -> `AIDA…` / `AROA…`); such an ARN then matches only the principal with that id.
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles
   */
  readonly principalIds?: Readonly<Record<string, string>>;
}

/**
 * Parses, validates and compiles a policy document (JSON text or parsed JSON).
 * Throws MalformedPolicyDocumentError (or its PolicySizeLimitExceededError) only.
 */
export function compilePolicy(source: string | unknown, options: CompileOptions): CompiledPolicy {
  return compileDocument(parsePolicyDocument(source, options.kind), options);
}

/** Compiles a document returned by {@link parsePolicyDocument}. */
export function compileDocument(document: PolicyDocument, options: CompileOptions): CompiledPolicy {
  // Variables exist only in the 2012-10-17 language.
  const substitute = document.version === "2012-10-17";
  const statements = document.statements.map((s, index): CompiledStatement => {
    const actionList = s.action ?? s.notAction ?? [];
    const resourceList = s.resource ?? s.notResource;
    const principal = s.principal ?? s.notPrincipal;
    const patterns = resourceList?.map(
      (r) =>
        new TemplateValue(parseTemplate(r, substitute), (parts) => compileGlob(parts, { arnSegments: true })),
    );
    const conditions = s.conditions.map((c) => compileCondition(c.operator, c.key, c.values, substitute));
    const referencedKeys = new Map<string, string>();
    for (const c of conditions) {
      if (!c.parsed.isNull && !referencedKeys.has(c.keyLower)) referencedKeys.set(c.keyLower, c.key);
      for (const k of c.variableKeys)
        if (!referencedKeys.has(k.toLowerCase())) referencedKeys.set(k.toLowerCase(), k);
    }
    return {
      index,
      sid: s.sid,
      effect: s.effect,
      actions: {
        negated: s.action === undefined,
        globs: actionList.map((a) => compileGlobText(a, { ignoreCase: true })),
      },
      resources: patterns === undefined ? undefined : { negated: s.resource === undefined, patterns },
      principals:
        principal === undefined
          ? undefined
          : {
              negated: s.principal === undefined,
              principal: compilePrincipal(principal, options.principalIds),
            },
      conditions,
      referencedKeys: [...referencedKeys].map(([keyLower, key]) => ({ key, keyLower })),
    };
  });
  return { name: options.name, id: options.id, kind: options.kind, document, statements };
}
