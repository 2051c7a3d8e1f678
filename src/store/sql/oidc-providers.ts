import type { OidcProviderRecord } from "../../iam/records.js";
import type { OidcProviderRepository } from "../../iam/repository.js";
import type { Row, SqlDriver } from "./driver.js";
import { date, encodeTags, optStr, str, tags } from "./rows.js";

const COLUMNS = "url, client_ids, thumbprints, tags, static_jwks, create_date";

const strings = (r: Row, col: string): string[] => JSON.parse(str(r, col)) as string[];

function providerFromRow(r: Row): OidcProviderRecord {
  const jwks = optStr(r, "static_jwks");
  return {
    url: str(r, "url"),
    clientIds: strings(r, "client_ids"),
    thumbprints: strings(r, "thumbprints"),
    tags: tags(r, "tags"),
    createDate: date(r, "create_date"),
    ...(jwks === undefined ? {} : { staticJwks: jwks }),
  };
}

/**
 * IAM OpenID Connect providers. Every change notifies `all`: a provider's client ids and keys
 * decide who may assume roles, and changes are rare.
 */
export function oidcProviderQueries(db: SqlDriver): OidcProviderRepository {
  return {
    insertOidcProvider: (p) =>
      db.transaction(async (tx) => {
        const n = await tx.run(
          `INSERT INTO oidc_providers (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING`,
          [
            p.url,
            JSON.stringify(p.clientIds),
            JSON.stringify(p.thumbprints),
            encodeTags(p.tags),
            p.staticJwks ?? null,
            p.createDate.getTime(),
          ],
        );
        if (n > 0) tx.notify({ scope: "all" });
        return n > 0;
      }),

    getOidcProvider: async (url) => {
      const r = await db.get(`SELECT ${COLUMNS} FROM oidc_providers WHERE url = ?`, [url]);
      return r && providerFromRow(r);
    },

    listOidcProviders: async () =>
      (await db.all(`SELECT ${COLUMNS} FROM oidc_providers`))
        .map(providerFromRow)
        // Ordered here by code unit: PostgreSQL's collation may order text differently.
        .sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0)),

    updateOidcProvider: (url, change) =>
      db.transaction(async (tx) => {
        const row = await tx.get(`SELECT ${COLUMNS} FROM oidc_providers WHERE url = ?${tx.forUpdate}`, [url]);
        if (!row) return false;
        const cur = providerFromRow(row);
        const patch = change(cur);
        await tx.run(
          "UPDATE oidc_providers SET client_ids = ?, thumbprints = ?, tags = ?, static_jwks = ? WHERE url = ?",
          [
            JSON.stringify(patch.clientIds ?? cur.clientIds),
            JSON.stringify(patch.thumbprints ?? cur.thumbprints),
            encodeTags(patch.tags ?? cur.tags),
            patch.staticJwks === undefined ? (cur.staticJwks ?? null) : patch.staticJwks,
            url,
          ],
        );
        tx.notify({ scope: "all" });
        return true;
      }),

    deleteOidcProvider: (url) =>
      db.transaction(async (tx) => {
        // Sessions already issued through the provider stay: they follow their role, as in AWS.
        const n = await tx.run("DELETE FROM oidc_providers WHERE url = ?", [url]);
        if (n > 0) tx.notify({ scope: "all" });
        return n > 0;
      }),
  };
}
