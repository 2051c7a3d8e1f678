/** Errors an operator fixes: each message says what to do. */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The database was migrated by a newer iamdb than this one. */
export class SchemaTooNewError extends StoreError {}

/** The master key is missing, malformed or exposed. */
export class MasterKeyError extends StoreError {}
