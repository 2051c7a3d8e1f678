import type { BackendSpec } from "../instances/types.js";

/** A provisioning step the backend refused; the message carries the backend's words and what to do. */
export class ProvisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProvisionError";
  }
}

/**
 * Runs `fn` on a connection as the instance's administrator, for either engine: `open` logs
 * in (its failure says which settings to check), `fn`'s failures become ProvisionErrors in
 * the backend's words, and the connection is closed either way. The administrator credential
 * is used for provisioning only; client sessions always log in as their own DB user.
 */
export async function asAdmin<C extends { end(): Promise<unknown> }, T>(
  spec: BackendSpec,
  open: () => Promise<C>,
  fn: (client: C) => Promise<T>,
): Promise<T> {
  let client: C;
  try {
    client = await open();
  } catch (err) {
    throw new ProvisionError(
      `cannot log in to the backend ${spec.host}:${spec.port} as ${spec.adminUser}: ${(err as Error).message}; check the instance's backend settings (host, port, adminUser, adminPassword)`,
    );
  }
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof ProvisionError) throw err;
    throw new ProvisionError(`the backend refused: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** What enabling a superuser takes: IAM would then hand full control of the backend to whoever holds rds-db:connect. */
export function superuserRefusal(account: string, what: string): string {
  return `${account} is ${what}: handing it to IAM gives every principal allowed rds-db:connect on it full control of the backend; use a role without it, or pass --allow-superuser (API: AllowSuperuser=true) if that is what you mean`;
}

/** Options of db-user enable. */
export interface EnableOptions {
  /** Hand a superuser (SUPERUSER; MySQL SUPER or ALL PRIVILEGES ON *.*) to IAM too. */
  readonly allowSuperuser?: boolean;
}
